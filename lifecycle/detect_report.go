package lifecycle

import (
	"fmt"
	"strings"
)

// MemberStatus is what happened to one buildpack of a group during detection.
type MemberStatus string

const (
	StatusPass    MemberStatus = "pass"
	StatusFail    MemberStatus = "fail"
	StatusError   MemberStatus = "error"
	StatusSkipped MemberStatus = "skipped"
)

// MemberReport is one buildpack's part in a group that was tried.
type MemberReport struct {
	ID, Version string
	Optional    bool
	Status      MemberStatus
	// Detail says why, e.g. "exit 100" or "not detected: target mismatch (…)".
	Detail string
	// ExitCode of bin/detect, -1 when it did not run or did not exit normally.
	ExitCode int
	// Output holds the last lines bin/detect printed.
	Output []string
	// Err is set for StatusError.
	Err error
}

// GroupReport is one group that was tried and failed.
type GroupReport struct {
	Members []MemberReport
	// Reason is why the group failed: a required member did not pass, or the plan did
	// not resolve (and which buildpack broke it).
	Reason string
}

// NoGroupError says that no group of the order passed detection (platform.md, detector). Its
// message reports every group tried and, for each buildpack, whether it passed, failed,
// errored or was skipped, with the last lines it printed, so a user sees why.
type NoGroupError struct {
	Groups []GroupReport
}

// Errored reports whether any buildpack errored rather than failed; the detector then exits
// with 21 instead of 20 (platform.md, detector).
func (e *NoGroupError) Errored() bool {
	for _, g := range e.Groups {
		for _, m := range g.Members {
			if m.Status == StatusError {
				return true
			}
		}
	}
	return false
}

// Unwrap returns the errors of the buildpacks that errored, for errors.Is/As.
func (e *NoGroupError) Unwrap() []error {
	var errs []error
	for _, g := range e.Groups {
		for _, m := range g.Members {
			if m.Err != nil {
				errs = append(errs, m.Err)
			}
		}
	}
	return errs
}

func (e *NoGroupError) Error() string {
	if len(e.Groups) == 0 {
		return "no buildpack group passed detection: the order has no groups (check order.toml or the builder's order)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no buildpack group passed detection (%d %s tried):", len(e.Groups), detectPlural(len(e.Groups), "group", "groups"))
	// A buildpack detected once appears in many groups; print its output only the first time.
	shown := map[string]bool{}
	for i, g := range e.Groups {
		fmt.Fprintf(&b, "\ngroup %d:", i+1)
		for _, m := range g.Members {
			ref := m.ID + "@" + m.Version
			opt := ""
			if m.Optional {
				opt = " (optional)"
			}
			fmt.Fprintf(&b, "\n  %-7s %s%s", m.Status, ref, opt)
			if m.Detail != "" {
				fmt.Fprintf(&b, ": %s", m.Detail)
			}
			if len(m.Output) == 0 {
				continue
			}
			if shown[ref] {
				b.WriteString(" (output above)")
				continue
			}
			shown[ref] = true
			for _, l := range m.Output {
				fmt.Fprintf(&b, "\n      | %s", l)
			}
		}
		if g.Reason != "" {
			fmt.Fprintf(&b, "\n  => %s", g.Reason)
		}
	}
	return b.String()
}

func detectPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
