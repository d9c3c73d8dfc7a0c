package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/slipway/slipway/internal/testkit"
)

var fastBackoff = remote.Backoff{Duration: time.Millisecond, Factor: 2, Steps: 4}

func newRegistry(t *testing.T) (*testkit.Registry, string) {
	r := testkit.NewRegistry(t)
	return r, r.Host
}

// isolate hides the developer's docker/podman credentials from authn.DefaultKeychain.
func isolate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	t.Setenv("XDG_RUNTIME_DIR", dir)
}

func testOptions() Options { return Options{backoff: &fastBackoff} }

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(1024, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPushPullRoundTrip(t *testing.T) {
	isolate(t)
	_, host := newRegistry(t)
	img := randomImage(t, 3)
	ref := host + "/team/app:v1"
	d, err := Write(context.Background(), ref, img, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := img.Digest(); d != want {
		t.Fatalf("Write digest %s, want %s", d, want)
	}
	for _, pull := range []string{ref, host + "/team/app@" + d.String()} {
		got, err := Image(context.Background(), pull, testOptions())
		if err != nil {
			t.Fatalf("Image(%s): %v", pull, err)
		}
		if gd, _ := got.Digest(); gd != d {
			t.Errorf("pulled %s digest %s, want %s", pull, gd, d)
		}
		if err := validate.Image(got); err != nil {
			t.Errorf("validate pulled %s: %v", pull, err)
		}
	}
}

// docs/architecture.md, "Never do work twice": a blob the registry has is never uploaded again.
func TestRepushDoesNotReuploadBlobs(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	base := randomImage(t, 3)
	if _, err := Write(context.Background(), host+"/app:1", base, testOptions()); err != nil {
		t.Fatal(err)
	}
	if rec.Uploads() == 0 {
		t.Fatal("first push uploaded nothing; the counter is broken")
	}
	extra, err := random.Layer(1024, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		ref         string
		img         v1.Image
		wantUploads int // upload sessions (POST) expected
	}{
		{"same image, same tag", host + "/app:1", base, 0},
		{"same image, new tag", host + "/app:2", base, 0},
		{"one new layer and config", host + "/app:3", derived, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.Reset()
			if _, err := Write(context.Background(), tc.ref, tc.img, testOptions()); err != nil {
				t.Fatal(err)
			}
			if got := rec.Count("POST", "uploads"); got != tc.wantUploads {
				t.Errorf("%d blob uploads started, want %d (counts %v)", got, tc.wantUploads, rec.Requests(""))
			}
		})
	}
}

// platform.md, Registry Authentication: CNB_REGISTRY_AUTH maps a registry to the Authorization header to send.
func TestCNBRegistryAuthHeaderIsSent(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:secret"))
	rec.Fail(func(r *http.Request) int {
		if h := r.Header.Get("Authorization"); h != basic && h != "Bearer tok3n" {
			return http.StatusUnauthorized
		}
		return 0
	})
	for _, tc := range []struct {
		name, env string
		wantErr   bool
	}{
		{"basic", `{"` + host + `": "` + basic + `"}`, false},
		{"bearer", `{"` + host + `": "Bearer tok3n"}`, false},
		{"other registry only", `{"registry.example.com": "` + basic + `"}`, true},
		{"wrong password", `{"` + host + `": "Basic ` + base64.StdEncoding.EncodeToString([]byte("user:wrong")) + `"}`, true},
		{"unset", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"PATH=/usr/bin"}
			if tc.env != "" {
				env = append(env, AuthEnv+"="+tc.env)
			}
			kc, err := Keychain(env)
			if err != nil {
				t.Fatal(err)
			}
			o := testOptions()
			o.Keychain = kc
			_, err = Write(context.Background(), host+"/private:latest", randomImage(t, 1), o)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var rerr *Error
			if !errors.As(err, &rerr) || rerr.Kind != KindUnauthorized {
				t.Fatalf("error %v, want KindUnauthorized", err)
			}
			for _, want := range []string{"not authorized", "podman login " + host, "docker login " + host, AuthEnv} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestKeychainParsing(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		wantErr   string
	}{
		{"not JSON", "Basic abc", "JSON object"},
		{"no scheme", `{"r.example.com": "abc"}`, `"Basic " or "Bearer "`},
		{"valid", `{"docker.io": "Basic dTpw"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Keychain([]string{AuthEnv + "=" + tc.env})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), AuthEnv) {
				t.Errorf("error %v, want one naming %s and %q", err, AuthEnv, tc.wantErr)
			}
		})
	}
	// "docker.io" in CNB_REGISTRY_AUTH must apply to Docker Hub references.
	kc, err := parseAuthEnv(`{"docker.io": "Basic dTpw"}`)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := kc.Resolve(name.MustParseReference("library/busybox").Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil || cfg.Username != "u" || cfg.Password != "p" {
		t.Errorf("Docker Hub credentials = %+v, %v; want u/p", cfg, err)
	}
}

func TestErrorMessages(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	if _, err := Write(context.Background(), host+"/exists:latest", randomImage(t, 1), testOptions()); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadHost := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name     string
		fail     func(*http.Request) int
		op       func() error
		wantKind Kind
		want     []string
	}{
		{"missing image", nil,
			func() error { _, err := Image(context.Background(), host+"/absent:latest", testOptions()); return err },
			KindNotFound, []string{"image " + host + "/absent:latest not found in registry " + host}},
		{"missing tag", nil,
			func() error { _, err := Image(context.Background(), host+"/exists:nope", testOptions()); return err },
			KindNotFound, []string{"not found in registry " + host}},
		{"unreachable", nil,
			func() error { _, err := Image(context.Background(), deadHost+"/app:latest", testOptions()); return err },
			KindUnreachable, []string{"cannot reach registry " + deadHost, "--insecure-registry " + deadHost}},
		{"unauthorized pull", func(*http.Request) int { return http.StatusUnauthorized },
			func() error { _, err := Image(context.Background(), host+"/exists:latest", testOptions()); return err },
			KindUnauthorized, []string{"not authorized to pull " + host + "/exists:latest", "podman login " + host}},
		{"forbidden push", func(r *http.Request) int {
			if r.Method == http.MethodPost || r.Method == http.MethodPut {
				return http.StatusForbidden
			}
			return 0
		},
			func() error {
				_, err := Write(context.Background(), host+"/ro:latest", randomImage(t, 1), testOptions())
				return err
			},
			KindUnauthorized, []string{"not authorized to push " + host + "/ro:latest"}},
		{"persistent server error", func(r *http.Request) int {
			if testkit.Kind(r) == "manifests" {
				return http.StatusInternalServerError
			}
			return 0
		},
			func() error { _, err := Image(context.Background(), host+"/exists:latest", testOptions()); return err },
			KindOther, []string{"pull " + host + "/exists:latest", "registry " + host, "500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.Fail(tc.fail)
			err := tc.op()
			var rerr *Error
			if !errors.As(err, &rerr) {
				t.Fatalf("error %v (%T), want *registry.Error", err, err)
			}
			if rerr.Kind != tc.wantKind {
				t.Errorf("kind %d, want %d (%v)", rerr.Kind, tc.wantKind, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestRetriesTransientServerError(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	failures := 2
	rec.Fail(func(r *http.Request) int {
		if r.Method == http.MethodPut && testkit.Kind(r) == "manifests" && failures > 0 {
			failures--
			return http.StatusInternalServerError
		}
		return 0
	})
	img := randomImage(t, 2)
	d, err := Write(context.Background(), host+"/flaky:latest", img, testOptions())
	if err != nil {
		t.Fatalf("push should survive two transient 500s: %v", err)
	}
	if got := rec.Count("PUT", "manifests"); got != 3 {
		t.Errorf("%d manifest PUTs, want 3 (two failures, one success)", got)
	}
	got, err := Image(context.Background(), host+"/flaky:latest", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != d {
		t.Errorf("pulled digest %s, want %s", gd, d)
	}
}

func TestParseReferenceInsecure(t *testing.T) {
	o := Options{Insecure: []string{"registry.internal:5000", "docker.io"}}
	for _, tc := range []struct{ ref, scheme string }{
		{"registry.internal:5000/app", "http"},
		{"registry.internal/app", "https"},
		{"busybox", "http"}, // docker.io listed → Docker Hub references are insecure too
		{"ghcr.io/x/y:1", "https"},
		{"127.0.0.1:5000/app", "http"}, // loopback is always plain HTTP
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := ParseReference(tc.ref, o)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Context().Registry.Scheme(); got != tc.scheme {
				t.Errorf("scheme %s, want %s", got, tc.scheme)
			}
		})
	}
	if _, err := ParseReference("UPPER/case", o); err == nil || !strings.Contains(err.Error(), "UPPER/case") {
		t.Errorf("bad name error %v should name the input", err)
	}
}

// A push the registry answers with 404 (a repository that does not exist and is not created
// on push) is a failed push, not "image not found": the image is the thing being written.
func TestPush404IsNotImageNotFound(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	rec.Fail(func(r *http.Request) int {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return http.StatusNotFound
		}
		return 0
	})
	_, err := Write(context.Background(), host+"/nope:latest", randomImage(t, 1), testOptions())
	if err == nil {
		t.Fatal("push to a registry answering 404 succeeded")
	}
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("error %T %v is not a *registry.Error", err, err)
	}
	if re.Kind == KindNotFound || strings.Contains(err.Error(), "not found in registry") {
		t.Errorf("push 404 reported as a missing image: %v", err)
	}
	if !strings.Contains(err.Error(), host+"/nope:latest") {
		t.Errorf("error %q does not name the image", err)
	}
	// The same 404 on a pull is "not found".
	_, err = Image(context.Background(), host+"/absent:latest", testOptions())
	if !errors.As(err, &re) || re.Kind != KindNotFound {
		t.Errorf("pull of a missing image: %v, want KindNotFound", err)
	}
}
