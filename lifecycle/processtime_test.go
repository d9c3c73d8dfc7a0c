package lifecycle

import (
	"testing"
	"time"
)

func TestProcessTimeUnion(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var p ProcessTime
	p.track(at(0), at(10))
	p.track(at(5), at(20))  // overlaps the first
	p.track(at(30), at(35)) // separate
	p.track(at(31), at(32)) // inside the third
	if got := p.Total(); got != 25*time.Millisecond {
		t.Errorf("Total = %v, want 25ms", got)
	}
	var nilP *ProcessTime
	nilP.track(at(0), at(1))
	if nilP.Total() != 0 {
		t.Error("nil ProcessTime recorded time")
	}
}
