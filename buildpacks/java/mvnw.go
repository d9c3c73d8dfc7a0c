package java

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// wrapperProperties is where the Maven Wrapper keeps the distribution it runs.
const wrapperProperties = ".mvn/wrapper/maven-wrapper.properties"

// mavenWrapper is the Maven distribution an app's Maven Wrapper names.
type mavenWrapper struct {
	URL    string // distributionUrl (after MVNW_REPOURL)
	SHA256 string // distributionSha256Sum, "" when the wrapper gives none
}

// readMavenWrapper reads .mvn/wrapper/maven-wrapper.properties; nil without the file.
// MVNW_REPOURL replaces the repository part of the URL (everything before
// /org/apache/maven/), as the wrapper does for a repository manager.
func readMavenWrapper(appDir string, env sdk.Environ) (*mavenWrapper, error) {
	props, err := readProperties(filepath.Join(appDir, wrapperProperties))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	w := &mavenWrapper{URL: props["distributionUrl"], SHA256: strings.ToLower(props["distributionSha256Sum"])}
	if w.URL == "" {
		return nil, fmt.Errorf("%s has no distributionUrl: name the Maven distribution zip there (distributionUrl=https://…/apache-maven-3.9.9-bin.zip) or remove mvnw to build with Maven from Debian packages", wrapperProperties)
	}
	if repo := env.Get("MVNW_REPOURL"); repo != "" {
		if _, rest, ok := strings.Cut(w.URL, "/org/apache/maven/"); ok {
			w.URL = strings.TrimSuffix(repo, "/") + "/org/apache/maven/" + rest
		}
	}
	if w.SHA256 != "" {
		if _, err := sdk.SHA256Hex(w.SHA256); err != nil {
			return nil, fmt.Errorf("%s distributionSha256Sum: %w", wrapperProperties, err)
		}
	}
	return w, nil
}

// readProperties reads a Java .properties file: key=value or key: value lines, # and !
// comments, backslash escapes (the wrapper writes https\://…), continuation lines.
func readProperties(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	var logical string
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical == "" && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		if n := len(line) - len(strings.TrimRight(line, `\`)); n%2 == 1 {
			logical += line[:len(line)-1]
			continue
		}
		logical += line
		key, value := splitProperty(logical)
		out[key] = value
		logical = ""
	}
	if logical != "" {
		key, value := splitProperty(logical)
		out[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

func splitProperty(line string) (string, string) {
	var key strings.Builder
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		if c == '\\' && i+1 < len(line) {
			i++
			key.WriteByte(unescape(line[i]))
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' {
			break
		}
		key.WriteByte(c)
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var value strings.Builder
	for j := 0; j < len(rest); j++ {
		if rest[j] == '\\' && j+1 < len(rest) {
			j++
			value.WriteByte(unescape(rest[j]))
			continue
		}
		value.WriteByte(rest[j])
	}
	return key.String(), value.String()
}

func unescape(c byte) byte {
	switch c {
	case 't':
		return '\t'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	}
	return c
}

// wrapperMaven installs the distribution the Maven Wrapper names into the maven layer
// (build, cache) and returns its bin/mvn. The buildpack does the wrapper's download
// itself instead of running the mvnw script: the build image needs no curl, wget or
// unzip, the zip is checked against distributionSha256Sum before anything is extracted,
// and it is downloaded again only when the URL or checksum changes.
// MVNW_USERNAME/MVNW_PASSWORD authenticate the download, as they do for the wrapper.
func (t *tool) wrapperMaven(ctx context.Context, w *mavenWrapper) (string, bool, error) {
	bc := t.bc
	lay, err := bc.Layers.Get(layerMaven)
	if err != nil {
		return "", false, err
	}
	types := sdk.LayerTypes{Build: true, Cache: true}
	home := filepath.Join(lay.Path, "maven")
	mvn := filepath.Join(home, "bin", "mvn")
	want := map[string]any{"source": "mvnw", "url": w.URL, "sha256": w.SHA256}
	if lay.MetadataMatches(want) && exists(mvn) {
		lay.Types = types
		return mvn, true, lay.Write()
	}
	f := &sdk.Fetcher{Client: t.http}
	if user := bc.Env.Get("MVNW_USERNAME"); user != "" {
		f.Header = http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+bc.Env.Get("MVNW_PASSWORD")))}}
	}
	tmp, err := os.MkdirTemp("", "slipway-mvnw-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp)
	var file string
	if w.SHA256 != "" {
		sum, _ := sdk.SHA256Hex(w.SHA256)
		file, err = f.Download(ctx, w.URL, sum, tmp)
		var ce *sdk.ChecksumError
		if errors.As(err, &ce) {
			return "", false, fmt.Errorf("the Maven distribution %s does not match distributionSha256Sum in %s (expected %s, got %s): correct the checksum or the distributionUrl: %w",
				w.URL, wrapperProperties, ce.Expected, ce.Got, err)
		}
	} else {
		bc.Log.Detail("%s gives no distributionSha256Sum: the download is not verified", wrapperProperties)
		file, err = fetchUnverified(ctx, f, w.URL, tmp)
	}
	if err != nil {
		return "", false, fmt.Errorf("download the Maven distribution named in %s: %w", wrapperProperties, err)
	}
	if err := lay.Reset(); err != nil {
		return "", false, err
	}
	if err := extractZip(file, home); err != nil {
		return "", false, fmt.Errorf("the Maven distribution %s (distributionUrl in %s): %w", w.URL, wrapperProperties, err)
	}
	if !exists(mvn) {
		return "", false, fmt.Errorf("the Maven distribution %s (distributionUrl in %s) has no bin/mvn under its top directory: name an apache-maven-*-bin.zip", w.URL, wrapperProperties)
	}
	lay.Metadata = want
	lay.Types = types
	return mvn, false, lay.Write()
}

func fetchUnverified(ctx context.Context, f *sdk.Fetcher, url, dir string) (string, error) {
	body, err := f.Get(ctx, url, nil)
	if err != nil {
		return "", err
	}
	defer body.Close()
	out, err := os.CreateTemp(dir, "download-*.zip")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, body); err != nil {
		out.Close()
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	return out.Name(), out.Close()
}

// extractZip extracts a distribution zip into dest, dropping its one top directory
// (apache-maven-3.9.9/). Entries that would land outside dest are refused; Unix modes
// (bin/mvn's execute bit) and symlinks are kept.
func extractZip(file, dest string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("not a zip file: %w", err)
	}
	defer zr.Close()
	for _, zf := range zr.File {
		clean := strings.Trim(path.Clean("/"+zf.Name), "/")
		_, rel, ok := strings.Cut(clean, "/")
		if !ok || rel == "" {
			continue // the top directory itself
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			link, err := readZipEntry(zf)
			if err != nil {
				return err
			}
			if r := path.Join(path.Dir(rel), link); path.IsAbs(link) || r == ".." || strings.HasPrefix(r, "../") {
				return fmt.Errorf("%s: a link out of the distribution (%s)", zf.Name, link)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := writeZipEntry(zf, target, mode.Perm()|0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func readZipEntry(zf *zip.File) (string, error) {
	r, err := zf.Open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	return string(b), err
}

func writeZipEntry(zf *zip.File, target string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	r, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", zf.Name, err)
	}
	defer r.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", zf.Name, err)
	}
	return out.Close()
}
