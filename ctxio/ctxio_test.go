package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCancelledCopyStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, strings.NewReader("abc"))
	var buf bytes.Buffer
	w := Writer(ctx, &buf)
	if _, err := io.Copy(w, r); err != nil {
		t.Fatalf("copy before cancel: %v", err)
	}
	cancel()
	if _, err := Reader(ctx, strings.NewReader("x")).Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("write after cancel: %v, want context.Canceled", err)
	}
	if buf.String() != "abc" {
		t.Errorf("copied %q", buf.String())
	}
}
