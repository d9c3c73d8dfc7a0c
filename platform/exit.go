package platform

import "errors"

// Exit codes banded per phase (platform.md, detector; platform.md, analyzer; platform.md, Usage (exit codes)).
const (
	CodeFailed                = 1
	CodeInvalidArgs           = 3
	CodeIncompatiblePlatform  = 11
	CodeIncompatibleBuildpack = 12
	CodeDetectFailNoGroup     = 20
	CodeDetectFailWithError   = 21
	CodeDetectError           = 22
	CodeAnalyzeError          = 32
	CodeRestoreError          = 42
	CodeBuildError            = 50
	CodeBuildpackFailed       = 51
	CodeExportError           = 62
	CodeRebaseError           = 72
	CodeLaunchError           = 82
)

// Error carries the exit code a phase should end with. Wrap a cause with NewError; the
// CLI maps it to the process exit code with ExitCode.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// NewError wraps err with an exit code.
func NewError(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// ExitCode returns the exit code carried by err (1 when none is).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return CodeFailed
}
