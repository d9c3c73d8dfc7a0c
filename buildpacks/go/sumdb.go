package golang

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// sumGolangOrgKey is the public verifier key of sum.golang.org, the checksum database the go
// command trusts by default.
const sumGolangOrgKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

// checksumDB is how a toolchain zip's hash is checked: against a checksum database (name,
// verifier key, and the URL it is read from), or not at all when the user turned that off.
type checksumDB struct {
	// Skip, when set, says why the hash is not checked (the setting that disabled it).
	Skip string
	Name string
	Key  string
	// URL serves the database's /lookup and /tile paths: a proxy's <proxy>/sumdb/<name>
	// when it supports that, else the database itself.
	URL     string
	fetcher *sdk.Fetcher
}

// newChecksumDB reads GOSUMDB, GONOSUMDB (GOPRIVATE) and GOFLAGS as the go command does and
// finds where to read the database: through the first proxy that serves it
// (<proxy>/sumdb/<name>/supported), else directly.
func newChecksumDB(ctx context.Context, cfg Config, proxies []string, fetcher *sdk.Fetcher) (checksumDB, error) {
	db := checksumDB{fetcher: fetcher}
	v := strings.TrimSpace(cfg.goEnv("GOSUMDB"))
	switch {
	case v == "off":
		db.Skip = "GOSUMDB=off"
		return db, nil
	case module.MatchPrefixPatterns(cfg.goEnv("GONOSUMDB"), toolchainModule):
		db.Skip = "GONOSUMDB/GOPRIVATE matches " + toolchainModule
		return db, nil
	case hasFlag(cfg.goEnv("GOFLAGS"), "-insecure"):
		db.Skip = "GOFLAGS=-insecure"
		return db, nil
	}
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return db, fmt.Errorf("GOSUMDB=%q: use a name (sum.golang.org), name+key, or \"name+key URL\"", v)
	}
	db.Key = f[0]
	db.Name, _, _ = strings.Cut(f[0], "+")
	direct := "https://" + db.Name
	switch {
	case strings.Contains(f[0], "+"):
	case db.Name == "sum.golang.org":
		db.Key = sumGolangOrgKey
	case db.Name == "sum.golang.google.cn":
		// An alias of sum.golang.org served from another host; the notes it serves are
		// signed as sum.golang.org.
		db.Key, db.Name = sumGolangOrgKey, "sum.golang.org"
	default:
		return db, fmt.Errorf("GOSUMDB=%q: unknown checksum database; give its verifier key (GOSUMDB=\"name+hash+key [URL]\")", v)
	}
	if len(f) == 2 {
		db.URL = strings.TrimSuffix(f[1], "/")
		return db, nil
	}
	for _, p := range proxies {
		body, err := fetcher.Get(ctx, p+"/sumdb/"+db.Name+"/supported", nil)
		if err == nil {
			body.Close()
			db.URL = p + "/sumdb/" + db.Name
			return db, nil
		}
	}
	db.URL = direct
	return db, nil
}

func hasFlag(goflags, flag string) bool {
	for _, f := range strings.Fields(goflags) {
		if f == flag || strings.HasPrefix(f, flag+"=") && f != flag+"=false" {
			return true
		}
	}
	return false
}

// ChecksumMismatchError says the downloaded zip's hash is not the one the checksum database
// records: the bytes are refused.
type ChecksumMismatchError struct {
	Module, Got, Want, DB string
}

func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("checksum mismatch for %s: downloaded %s, checksum database %s records %s; refusing to install it (the proxy served different bytes than everyone else gets)", e.Module, e.Got, e.DB, e.Want)
}

// verify checks the h1: hash of mod's zip against the database.
func (db checksumDB) verify(ctx context.Context, mod module.Version, got string, log *sdk.Logger) error {
	if db.Skip != "" {
		log.Warnf("%s@%s is NOT checked against a checksum database (%s); its hash is %s. The go command itself always checks toolchain downloads.", mod.Path, mod.Version, db.Skip, got)
		return nil
	}
	ops := &sumdbOps{ctx: ctx, db: db, config: map[string][]byte{}, cache: map[string][]byte{}}
	lines, err := sumdb.NewClient(ops).Lookup(mod.Path, mod.Version)
	if ops.security != "" {
		return fmt.Errorf("checksum database %s (%s): SECURITY ERROR: %s; refusing to install %s@%s", db.Name, db.URL, ops.security, mod.Path, mod.Version)
	}
	if err != nil {
		return fmt.Errorf("look up %s@%s in checksum database %s (%s): %w; set GOSUMDB to a reachable database (\"name+key URL\") or GONOSUMDB=%s to skip the check", mod.Path, mod.Version, db.Name, db.URL, err, mod.Path)
	}
	prefix := mod.Path + " " + mod.Version + " "
	for _, l := range lines {
		if want, ok := strings.CutPrefix(l, prefix); ok {
			if want != got {
				return &ChecksumMismatchError{Module: mod.Path + "@" + mod.Version, Got: got, Want: want, DB: db.Name}
			}
			log.Detail("checked %s@%s against checksum database %s: %s", mod.Path, mod.Version, db.Name, got)
			return nil
		}
	}
	return fmt.Errorf("checksum database %s has no record of %s@%s; refusing to install it", db.Name, mod.Path, mod.Version)
}

// sumdbOps serves sumdb.Client from memory and db.URL: each build starts from the empty
// tree and proves the record against the signed tree head it receives.
type sumdbOps struct {
	ctx      context.Context
	db       checksumDB
	mu       sync.Mutex
	config   map[string][]byte
	cache    map[string][]byte
	security string
}

func (o *sumdbOps) ReadRemote(path string) ([]byte, error) {
	body, err := o.db.fetcher.Get(o.ctx, o.db.URL+path, nil)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(io.LimitReader(body, 8<<20))
}

func (o *sumdbOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.db.Key), nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.config[file], nil
}

func (o *sumdbOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(o.config[file], old) {
		return sumdb.ErrWriteConflict
	}
	o.config[file] = new
	return nil
}

func (o *sumdbOps) ReadCache(file string) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.cache[file]; ok {
		return b, nil
	}
	return nil, os.ErrNotExist
}

func (o *sumdbOps) WriteCache(file string, data []byte) {
	o.mu.Lock()
	o.cache[file] = data
	o.mu.Unlock()
}

func (o *sumdbOps) Log(string) {}

func (o *sumdbOps) SecurityError(msg string) {
	o.mu.Lock()
	o.security = strings.TrimSpace(msg)
	o.mu.Unlock()
}

var _ sumdb.ClientOps = (*sumdbOps)(nil)
