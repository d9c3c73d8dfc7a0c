package imagestore

import (
	"context"
	"errors"
	"testing"
)

// WriteMany names an image several times in one index update: all names move, or none.
func TestWriteManyAllOrNothing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		refs    []string
		failing bool // the index commit fails (a crash before the rename)
		wantErr bool
	}{
		{name: "three names", refs: []string{"app", "app:v1", "other/app:v2"}},
		{name: "duplicate names collapse", refs: []string{"app", "localhost/app:latest", "app:v1"}},
		{name: "index commit fails", refs: []string{"app", "app:v1"}, failing: true, wantErr: true},
		{name: "a digest name is refused before writing", refs: []string{"app", "app@sha256:" + zeros}, wantErr: true},
		{name: "a bad name is refused before writing", refs: []string{"app", "Bad Name"}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t)
			old := randomImage(t, 1)
			oldD := mustWrite(t, s, "app", old)
			mustWrite(t, s, "app:v1", old)
			img := randomImage(t, 2)
			if c.failing {
				s.beforeIndexRename = func() error { return errors.New("simulated crash") }
			}
			d, err := s.WriteMany(ctx, c.refs, img)
			s.beforeIndexRename = nil
			if (err != nil) != c.wantErr {
				t.Fatalf("WriteMany(%v) error = %v, want error %v", c.refs, err, c.wantErr)
			}
			if c.wantErr {
				assertImage(t, s, "app", oldD)
				assertImage(t, s, "app:v1", oldD)
				return
			}
			want, _ := img.Digest()
			if d != want {
				t.Fatalf("digest %s, want %s", d, want)
			}
			for _, r := range c.refs {
				assertImage(t, s, r, want)
			}
			entries, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]int{}
			for _, e := range entries {
				names[e.Name]++
			}
			for n, k := range names {
				if k != 1 {
					t.Errorf("name %s listed %d times", n, k)
				}
			}
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
