package sdk

import (
	"fmt"
	"io"
)

// Logger prints buildpack progress in a fixed shape: a title per buildpack, a line per
// step, indented details. The lifecycle prefixes and forwards these lines (
// buildpack.md, Detection; buildpack.md, Build).
type Logger struct {
	w io.Writer
}

// NewLogger logs to w.
func NewLogger(w io.Writer) *Logger {
	if w == nil {
		w = io.Discard
	}
	return &Logger{w: w}
}

// Writer is the underlying writer, for streaming a child process's output.
func (l *Logger) Writer() io.Writer { return l.w }

// Title starts a buildpack's output.
func (l *Logger) Title(format string, args ...any) { fmt.Fprintf(l.w, format+"\n", args...) }

// Step reports one unit of work.
func (l *Logger) Step(format string, args ...any) { fmt.Fprintf(l.w, "  "+format+"\n", args...) }

// Detail reports a fact about the current step.
func (l *Logger) Detail(format string, args ...any) { fmt.Fprintf(l.w, "    "+format+"\n", args...) }

// Warnf reports something the user should fix but that does not stop the build.
func (l *Logger) Warnf(format string, args ...any) {
	fmt.Fprintf(l.w, "  WARNING: "+format+"\n", args...)
}

// Errorf reports the failure that stops the buildpack.
func (l *Logger) Errorf(format string, args ...any) {
	fmt.Fprintf(l.w, "ERROR: "+format+"\n", args...)
}
