package ruby

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseLockfile: any Gemfile.lock gives a lockfile or a LockError with a position
// inside the file, never a panic.
func FuzzParseLockfile(f *testing.F) {
	f.Add(goodLock)
	f.Add("GEM\n  remote: https://rubygems.org/\n  specs:\n    rack\n")
	f.Add("<<<<<<< HEAD\n")
	f.Add("BUNDLED WITH\n\t2.4.1\n")
	f.Fuzz(func(t *testing.T, text string) {
		l, err := parseLockfile("Gemfile.lock", text)
		if err != nil {
			var le *LockError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a LockError", err)
			}
			if le.Line < 1 || le.Line > strings.Count(text, "\n")+1 || le.Column < 1 {
				t.Fatalf("position %d:%d outside the input", le.Line, le.Column)
			}
			return
		}
		if l == nil {
			t.Fatal("no lockfile and no error")
		}
	})
}
