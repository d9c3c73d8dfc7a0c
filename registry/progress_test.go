package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/slipway/slipway/internal/testkit"
)

// The printer throttles to one line per tenth of the bytes and at most one a second; the
// clock is fake, so nothing here depends on how fast the test runs.
func TestProgressPrinterThrottles(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		updates []v1.Update
		at      []time.Duration // clock at each update
		want    []string        // percentages printed
	}{
		{
			name:    "fast push prints no percentage",
			updates: []v1.Update{{Total: 100, Complete: 10}, {Total: 100, Complete: 60}, {Total: 100, Complete: 100}},
			at:      []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond},
		},
		{
			name:    "slow push prints each new tenth after a second",
			updates: []v1.Update{{Total: 100, Complete: 15}, {Total: 100, Complete: 18}, {Total: 100, Complete: 55}, {Total: 100, Complete: 100}},
			at:      []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second},
			want:    []string{"10%", "50%"},
		},
		{
			name:    "many small updates within a second print once",
			updates: []v1.Update{{Total: 100, Complete: 20}, {Total: 100, Complete: 30}, {Total: 100, Complete: 40}},
			at:      []time.Duration{1100 * time.Millisecond, 1200 * time.Millisecond, 1300 * time.Millisecond},
			want:    []string{"20%"},
		},
		{
			name:    "errors print nothing",
			updates: []v1.Update{{Error: fmt.Errorf("boom")}},
			at:      []time.Duration{5 * time.Second},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var lines []string
			i := 0
			p := &progressPrinter{image: "img", lastAt: start,
				printf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
				now:    func() time.Time { return start.Add(c.at[i]) }}
			for i = range c.updates {
				p.update(c.updates[i])
			}
			if len(lines) != len(c.want) {
				t.Fatalf("printed %q, want percentages %q", lines, c.want)
			}
			for j, w := range c.want {
				if !strings.Contains(lines[j], " "+w+" ") {
					t.Errorf("line %d = %q, want %s", j, lines[j], w)
				}
			}
		})
	}
}

// The summary separates bytes sent from bytes the registry already had: a first push
// uploads everything, a second of the same image uploads nothing.
// docs/architecture.md, "Never do work twice": never upload what the registry has.
func TestWriteWithProgressSummary(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	img := randomImage(t, 3)
	push := func(ref string) string {
		t.Helper()
		var lines []string
		d, err := WriteWithProgress(context.Background(), ref, img, testOptions(), func(f string, a ...any) {
			lines = append(lines, fmt.Sprintf(f, a...))
		})
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := img.Digest(); d != want {
			t.Fatalf("digest %s, want %s", d, want)
		}
		if len(lines) == 0 {
			t.Fatal("no summary line")
		}
		return lines[len(lines)-1]
	}
	first := push(host + "/app:1")
	if !strings.HasPrefix(first, "pushed "+host+"/app:1: ") || strings.Contains(first, ": 0 B uploaded") || !strings.HasSuffix(first, ", 0 B already in the registry") {
		t.Errorf("first push summary %q: want bytes uploaded and none already there", first)
	}
	second := push(host + "/app:1")
	if !strings.HasSuffix(second, "already in the registry, nothing uploaded") {
		t.Errorf("second push summary %q: want nothing uploaded", second)
	}
	if rec.Count("POST", "uploads") == 0 {
		t.Error("counter broken: no uploads seen")
	}
}

// A push that fails closes the progress channel (remote does) and returns the classified
// error; a name that does not parse fails before any channel is handed out.
func TestWriteWithProgressErrors(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	rec.Fail(func(r *http.Request) int {
		if testkit.Kind(r) == "uploads" {
			return http.StatusUnauthorized
		}
		return 0
	})
	for _, ref := range []string{host + "/app:1", "Not A Name"} {
		_, err := WriteWithProgress(context.Background(), ref, randomImage(t, 1), testOptions(), func(string, ...any) {})
		if err == nil {
			t.Fatalf("%s: push succeeded", ref)
		}
	}
}

// Tag puts only the manifest: no blob upload, and the tag then resolves to the image.
func TestTagPutsOnlyTheManifest(t *testing.T) {
	isolate(t)
	rec, host := newRegistry(t)
	img := randomImage(t, 2)
	d, _ := img.Digest()
	if _, err := Write(context.Background(), host+"/app@"+d.String(), img, testOptions()); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	if err := Tag(context.Background(), host+"/app:v1", img, testOptions()); err != nil {
		t.Fatal(err)
	}
	if rec.Uploads() != 0 || rec.Count("PUT", "manifests") != 1 {
		t.Errorf("Tag sent %v; want one manifest PUT and no uploads", rec.Requests(""))
	}
	got, err := Image(context.Background(), host+"/app:v1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != d {
		t.Errorf("tag points at %s, want %s", gd, d)
	}
}
