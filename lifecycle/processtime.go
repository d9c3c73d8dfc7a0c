package lifecycle

import (
	"slices"
	"sync"
	"time"
)

// ProcessTime adds up the wall time spent in buildpack processes (bin/detect, bin/build), so
// a platform can report its own overhead: phase time minus buildpack time. Overlapping runs
// (detects of one group run in parallel) count once. The zero value is ready; nil records
// nothing.
type ProcessTime struct {
	mu    sync.Mutex
	spans [][2]time.Time
}

// track records one process run.
func (p *ProcessTime) track(start, end time.Time) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spans = append(p.spans, [2]time.Time{start, end})
}

// Total is the length of the union of the recorded runs.
func (p *ProcessTime) Total() time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	spans := slices.Clone(p.spans)
	p.mu.Unlock()
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var cur [2]time.Time
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s[0].After(cur[1]):
			if s[1].After(cur[1]) {
				cur[1] = s[1]
			}
		default:
			total += cur[1].Sub(cur[0])
			cur = s
		}
	}
	if len(spans) > 0 {
		total += cur[1].Sub(cur[0])
	}
	return total
}

// The phases running in slipway's sandbox tell `slipway build` how long their buildpack
// processes took: with ProcessTimeEnv=1 in their environment they print one line
// ProcessTimePrefix + nanoseconds on stderr before they exit.
const (
	ProcessTimeEnv    = "SLIPWAY_REPORT_PROCESS_TIME"
	ProcessTimePrefix = "slipway-process-time: "
)
