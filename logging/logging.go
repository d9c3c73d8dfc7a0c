// Package logging writes what a person running slipway reads: phase headers with
// durations, prefixed buildpack output, warnings, and debug lines under --verbose.
package logging

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// Level selects how much is printed.
type Level int

const (
	Quiet Level = iota - 1 // errors and warnings only
	Info                   // phase headers and buildpack output
	Debug                  // plus per-step detail (--verbose)
)

// Logger is safe for concurrent use. The zero value discards everything.
type Logger struct {
	Out        io.Writer
	Level      Level
	Timestamps bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
}

// New returns a Logger writing to out.
func New(out io.Writer, level Level, timestamps bool) *Logger {
	return &Logger{Out: out, Level: level, Timestamps: timestamps}
}

// Discard is a Logger that prints nothing.
func Discard() *Logger { return &Logger{} }

func (l *Logger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Logger) write(level Level, prefix, msg string) {
	if l == nil || l.Out == nil || l.Level < level {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := ""
	if l.Timestamps {
		ts = l.now().Format("15:04:05.000") + " "
	}
	fmt.Fprintf(l.Out, "%s%s%s\n", ts, prefix, msg)
}

// Infof prints a normal line.
func (l *Logger) Infof(format string, args ...any) { l.write(Info, "", fmt.Sprintf(format, args...)) }

// Debugf prints only under --verbose.
func (l *Logger) Debugf(format string, args ...any) {
	l.write(Debug, "", fmt.Sprintf(format, args...))
}

// Warnf prints a warning even under --quiet.
func (l *Logger) Warnf(format string, args ...any) {
	l.write(Quiet, "warning: ", fmt.Sprintf(format, args...))
}

// IsDebug reports whether debug lines are printed.
func (l *Logger) IsDebug() bool { return l != nil && l.Level >= Debug }

// Phase prints a "===> NAME" header and returns a function that prints how long the phase
// took; call it with the phase's error (or nil).
func (l *Logger) Phase(name string) func(err error) time.Duration {
	start := l.now()
	l.write(Info, "", "===> "+name)
	return func(err error) time.Duration {
		d := l.now().Sub(start)
		if err != nil {
			l.write(Info, "", fmt.Sprintf("     %s failed after %s", name, round(d)))
		} else {
			l.write(Info, "", fmt.Sprintf("     %s done in %s", name, round(d)))
		}
		return d
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// Writer returns an io.Writer whose lines are printed at level with prefix, for streaming
// buildpack output. Partial lines are held until their newline or Close.
func (l *Logger) Writer(level Level, prefix string) io.WriteCloser {
	return &lineWriter{l: l, level: level, prefix: prefix}
}

type lineWriter struct {
	l      *Logger
	level  Level
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.l.write(w.level, w.prefix, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.l.write(w.level, w.prefix, string(w.buf))
		w.buf = nil
	}
	return nil
}

// Bytes formats a size for people: "1.5 MiB", "340 B".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
