package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLevels(t *testing.T) {
	cases := []struct {
		name  string
		level Level
		want  []string
		not   []string
	}{
		{"quiet", Quiet, []string{"warning: careful"}, []string{"info line", "debug line"}},
		{"info", Info, []string{"info line", "warning: careful"}, []string{"debug line"}},
		{"debug", Debug, []string{"info line", "debug line", "warning: careful"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, tc.level, false)
			l.Infof("info %s", "line")
			l.Debugf("debug line")
			l.Warnf("careful")
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("missing %q in %q", w, buf.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(buf.String(), n) {
					t.Errorf("unexpected %q in %q", n, buf.String())
				}
			}
		})
	}
}

func TestPhaseReportsDuration(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := &Logger{Out: &buf, Level: Info, Timestamps: true, Now: func() time.Time { return now }}
	done := l.Phase("BUILDING")
	now = now.Add(1500 * time.Millisecond)
	if d := done(nil); d != 1500*time.Millisecond {
		t.Fatalf("duration %v", d)
	}
	done = l.Phase("EXPORTING")
	now = now.Add(20 * time.Millisecond)
	done(errors.New("boom"))
	out := buf.String()
	for _, want := range []string{"===> BUILDING", "BUILDING done in 1.5s", "EXPORTING failed after 20ms", "00:00:01.500 "} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestWriterPrefixesWholeLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Info, false)
	w := l.Writer(Info, "[bp] ")
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	if got := buf.String(); got != "[bp] one\n[bp] two\n" {
		t.Fatalf("before close: %q", got)
	}
	w.Close()
	if got := buf.String(); got != "[bp] one\n[bp] two\n[bp] three\n" {
		t.Fatalf("after close: %q", got)
	}
	// Debug-level writers print nothing at Info.
	buf.Reset()
	dw := l.Writer(Debug, "")
	dw.Write([]byte("hidden\n"))
	if buf.Len() != 0 {
		t.Fatalf("debug writer printed %q", buf.String())
	}
}

func TestZeroLoggerDiscards(t *testing.T) {
	var l *Logger
	l.Infof("nothing")
	Discard().Warnf("nothing")
	if l.IsDebug() {
		t.Fatal("nil logger is not debug")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 29 << 20: "29.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
