package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Reuse by fingerprint (docs/spec-notes.md, Layer reuse): a layer whose tree is unchanged since
// the last export is taken from the previous image without tar; a changed tree, an unknown
// layer or a previous image without the recorded diffID all rebuild it.
func TestExportReuseByFingerprint(t *testing.T) {
	ctx := context.Background()
	f := newExportFixture(t, webWorkerMetadata)
	run := testRunImage(t, false)
	prev, prevRep, err := Export(ctx, f.inputs(t, run))
	if err != nil {
		t.Fatal(err)
	}
	const name = "example/node:node"
	reuse := map[string]LayerFingerprint{}
	var prevNode ExportedLayer
	for _, l := range prevRep.Layers {
		if l.Fingerprint != "" {
			reuse[l.Name] = LayerFingerprint{Fingerprint: l.Fingerprint, DiffID: l.DiffID.String()}
		}
		if l.Name == name {
			prevNode = l
		}
	}
	if prevNode.Fingerprint == "" {
		t.Fatalf("first export recorded no fingerprint for %s: %+v", name, prevRep.Layers)
	}
	export := func(t *testing.T, previous bool, reuse map[string]LayerFingerprint) ExportedLayer {
		t.Helper()
		in := f.inputs(t, run)
		if previous {
			in.PreviousImage = prev
		} else {
			in.PreviousImage = run // an image that has none of the app's layers
		}
		in.Reuse = reuse
		_, rep, err := Export(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rep.Layers {
			if l.Name == name {
				return l
			}
		}
		t.Fatalf("no layer %s in %+v", name, rep.Layers)
		return ExportedLayer{}
	}

	t.Run("unchanged is reused", func(t *testing.T) {
		l := export(t, true, reuse)
		if !l.Reused || l.Reason != "reused (unchanged)" || l.DiffID != prevNode.DiffID {
			t.Errorf("layer %+v, want reused %s", l, prevNode.DiffID)
		}
	})
	t.Run("not recorded is rebuilt", func(t *testing.T) {
		l := export(t, true, nil)
		if l.Reused || !strings.Contains(l.Reason, "no previous export recorded") {
			t.Errorf("layer %+v, want rebuilt (no record)", l)
		}
		if l.DiffID != prevNode.DiffID {
			t.Errorf("rebuilt unchanged layer has diffID %s, want %s", l.DiffID, prevNode.DiffID)
		}
	})
	t.Run("missing from the previous image is rebuilt", func(t *testing.T) {
		l := export(t, false, reuse)
		if l.Reused || !strings.Contains(l.Reason, "is not in the previous image") {
			t.Errorf("layer %+v, want rebuilt (not in previous image)", l)
		}
	})
	t.Run("changed is rebuilt", func(t *testing.T) {
		// Same size, new bytes and mtime: only a real fingerprint notices.
		p := filepath.Join(f.layers, "example_node", "node", "bin", "node")
		if err := os.WriteFile(p, []byte("NODE-BINARY"), 0o644); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Minute)
		os.Chtimes(p, later, later)
		l := export(t, true, reuse)
		if l.Reused || l.Reason != "rebuilt (contents changed)" {
			t.Errorf("layer %+v, want rebuilt (contents changed)", l)
		}
		if l.DiffID == prevNode.DiffID {
			t.Errorf("changed layer kept diffID %s", l.DiffID)
		}
	})
}
