package layer_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway/slipway/layer"
)

// BenchmarkFromDir measures tar+hash+gzip+hash throughput (MB/s of input) over a tree that
// mixes incompressible (binaries, archives) and text files.
func BenchmarkFromDir(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 32 {
		data := make([]byte, 1<<20)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		} else {
			copy(data, strings.Repeat("const answer = 42; // some source text\n", len(data)/39+1))
		}
		p := filepath.Join(dir, "d"+string(rune('a'+i%4)), "f"+string(rune('a'+i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	benchLayer(b, dir, total)
}

// BenchmarkFromDirSparse streams a 1 GiB sparse file: B/op must stay small (bounded memory
// whatever the layer size).
func BenchmarkFromDirSparse(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchLayer(b, dir, 1<<30)
}

func benchLayer(b *testing.B, dir string, total int64) {
	scratch := b.TempDir()
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		l, err := layer.FromDir(context.Background(), dir, "/layers/bp/l", layer.Options{ScratchDir: scratch})
		if err != nil {
			b.Fatal(err)
		}
		l.Remove()
	}
}
