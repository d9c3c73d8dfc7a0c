// Package mavenrepo serves a Maven repository on 127.0.0.1 for tests: the
// /usr/share/maven-repo trees of Debian's Java packages (Maven plugins, libraries),
// plus files a test adds. Checksums (.sha1, .md5, .sha256) are computed on request.
package mavenrepo

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slipway/slipway/debian"
	"github.com/slipway/slipway/internal/pypiindex"
	"github.com/slipway/slipway/internal/testimages"
)

// PluginPackages are the Debian packages whose repository tree lets Maven 3.8 build a
// jar project offline: the compiler, resources, jar and shade plugins pinned to
// Debian's versions (see Plugins) and everything they resolve. Debian's POMs name their
// dependencies at version "debian", which these packages also carry.
var PluginPackages = []string{
	"junit5", "libaopalliance-java", "libapache-pom-java", "libasm-java", "libatinject-jsr330-api-java", "libcdi-api-java",
	"libcommons-collections4-java", "libcommons-compress-java", "libcommons-io-java", "libcommons-lang3-java", "libcommons-parent-java",
	"liberror-prone-java", "libgeronimo-annotation-1.3-spec-java", "libgeronimo-interceptor-3.0-spec-java", "libguava-java", "libguice-java",
	"libjdependency-java", "libjdom2-java", "libjsr305-java", "libmaven-archiver-java", "libmaven-artifact-transfer-java",
	"libmaven-common-artifact-filters-java", "libmaven-compiler-plugin-java", "libmaven-dependency-tree-java", "libmaven-file-management-java",
	"libmaven-filtering-java", "libmaven-jar-plugin-java", "libmaven-parent-java", "libmaven-resolver-java", "libmaven-resources-plugin-java",
	"libmaven-shade-plugin-java", "libmaven-shared-incremental-java", "libmaven-shared-io-java", "libmaven-shared-utils-java", "libmaven3-core-java",
	"libplexus-archiver-java", "libplexus-build-api-java", "libplexus-cipher-java", "libplexus-classworlds-java", "libplexus-compiler-java",
	"libplexus-component-annotations-java", "libplexus-interpolation-java", "libplexus-io-java", "libplexus-languages-java",
	"libplexus-sec-dispatcher-java", "libplexus-utils2-java", "libqdox2-java", "libsisu-inject-java", "libsisu-plexus-java", "libslf4j-java",
	"libsnappy-java", "libwagon-provider-api-java", "libxz-java",
}

// Plugins is the <build><plugins> section that pins the plugins to the versions
// PluginPackages carry and turns surefire's default execution off (Debian's surefire
// needs much more; the builds skip tests anyway).
const Plugins = `<plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
      <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
      <plugin><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version></plugin>
      <plugin><artifactId>maven-surefire-plugin</artifactId><executions><execution><id>default-test</id><phase>none</phase></execution></executions></plugin>`

// Shade is the maven-shade-plugin execution that makes the jar executable with its
// dependencies inside.
const Shade = `<plugin><artifactId>maven-shade-plugin</artifactId><version>3.4.1</version>
        <executions><execution><phase>package</phase><goals><goal>shade</goal></goals></execution></executions></plugin>`

// POM is the pom.xml of a jar project (com.example:hello:1.0, Java 17, main class
// hello.Main) with the given <dependency> elements, shaded into an executable jar, its
// plugins pinned to what PluginPackages carry.
func POM(deps string) string {
	return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>hello</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>` + deps + `</dependencies>
  <build>
    <plugins>
      ` + Plugins + `
      ` + Shade + `
    </plugins>
    <pluginManagement><plugins><plugin><artifactId>maven-jar-plugin</artifactId>
      <configuration><archive><manifest><mainClass>hello.Main</mainClass></manifest></archive></configuration>
    </plugin></plugins></pluginManagement>
  </build>
</project>
`
}

// Lang3 is the dependency on commons-lang3 that libcommons-lang3-java carries.
const Lang3 = `<dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId><version>3.12.0</version></dependency>`

// Repo is a running repository.
type Repo struct {
	URL      string
	root     string
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	fetched  []string
}

// Start extracts the maven-repo trees of the named Debian packages (downloaded and
// verified through the test cache) and serves them; the server stops with the test.
func Start(t testing.TB, packages ...string) *Repo {
	t.Helper()
	if _, err := os.Stat(pypiindex.DebianKeyring); err != nil {
		t.Skip("Debian's archive keyring is not installed (apt-get install debian-archive-keyring)")
	}
	r, err := Serve(context.Background(), filepath.Join(testimages.CacheDir(t), "debs"), t.TempDir(), packages...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// Serve is Start for programs (the benchmark): the .debs are kept in debCache by SHA256
// and extracted into dir; the caller closes the repository.
func Serve(ctx context.Context, debCache, dir string, packages ...string) (*Repo, error) {
	debs, err := pypiindex.FetchDebian(ctx, debCache, packages...)
	if err != nil {
		return nil, err
	}
	for _, name := range packages {
		if err := extractRepo(debs[name], dir); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	r := &Repo{root: filepath.Join(dir, "usr/share/maven-repo")}
	if err := os.MkdirAll(r.root, 0o755); err != nil {
		return nil, err
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r, nil
}

// Close stops the server.
func (r *Repo) Close() { r.srv.Close() }

func extractRepo(deb, root string) error {
	f, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer f.Close()
	rt, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer rt.Close()
	_, err = debian.Extract(context.Background(), bufio.NewReader(f), rt, deb, debian.ExtractOptions{})
	return err
}

// Add puts a file at a repository path (e.g. "com/acme/x/1.0/x-1.0.jar").
func (r *Repo) Add(t testing.TB, p string, data []byte) {
	t.Helper()
	dst := filepath.Join(r.root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Requests is the number of requests served so far.
func (r *Repo) Requests() int64 { return r.requests.Load() }

// Handler serves the repository, for a second server (HTTPS) in front of the same files;
// its requests count too.
func (r *Repo) Handler() http.Handler { return http.HandlerFunc(r.serve) }

// Settings is a Maven settings.xml that sends every repository request here.
func (r *Repo) Settings() string { return SettingsAt(r.URL) }

// SettingsAt is a Maven settings.xml that sends every repository request to url.
func SettingsAt(url string) string {
	return fmt.Sprintf(`<settings>
  <mirrors>
    <mirror><id>test-repo</id><mirrorOf>*</mirrorOf><url>%s</url></mirror>
  </mirrors>
</settings>
`, url)
}

// resolve reads a repository file, following Debian's absolute symlinks (into
// /usr/share/java) inside the extracted tree.
func (r *Repo) resolve(p string) ([]byte, error) {
	base := filepath.Dir(filepath.Dir(filepath.Dir(r.root))) // the extraction root
	cur := filepath.Join(r.root, filepath.FromSlash(p))
	for i := 0; i < 10; i++ {
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return os.ReadFile(cur)
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return nil, err
		}
		if filepath.IsAbs(target) {
			cur = filepath.Join(base, target)
		} else {
			cur = filepath.Join(filepath.Dir(cur), target)
		}
		if !strings.HasPrefix(cur, base) {
			return nil, fs.ErrNotExist
		}
	}
	return nil, fmt.Errorf("%s: too many links", p)
}

func (r *Repo) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	p := strings.TrimPrefix(path.Clean("/"+req.URL.Path), "/")
	var h func() hash.Hash
	for ext, fn := range map[string]func() hash.Hash{".sha1": sha1.New, ".md5": md5.New, ".sha256": sha256.New} {
		if strings.HasSuffix(p, ext) {
			p, h = strings.TrimSuffix(p, ext), fn
		}
	}
	data, err := r.resolve(p)
	if err != nil {
		http.NotFound(w, req)
		return
	}
	if h != nil {
		sum := h()
		sum.Write(data)
		data = []byte(hex.EncodeToString(sum.Sum(nil)))
	}
	if req.Method == http.MethodHead {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		return
	}
	w.Write(data)
}
