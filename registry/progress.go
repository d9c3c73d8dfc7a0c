package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/slipway/slipway/logging"
)

// progressStep and progressEvery throttle progress lines: one per tenth of the bytes, and
// never more than one a second, so a fast push prints only its summary and a slow one
// shows it is alive without flooding a CI log.
const (
	progressStep  = 10
	progressEvery = time.Second
)

// WriteWithProgress is Write that reports the upload of image (the name shown to the user)
// through printf: throttled percentage lines while blobs upload, then one summary line with
// the bytes uploaded and the bytes the registry already had (skipped or mounted).
func WriteWithProgress(ctx context.Context, ref string, img v1.Image, o Options, printf func(format string, args ...any)) (v1.Hash, error) {
	// Parse first: Write only hands the channel to remote (which closes it) once the name parses.
	if _, err := ParseReference(ref, o); err != nil {
		return v1.Hash{}, err
	}
	p := &progressPrinter{image: ref, printf: printf, now: time.Now, lastAt: time.Now()}
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	o.Transport = &countingTransport{inner: base, sent: &p.sent}
	updates := make(chan v1.Update, 16)
	o.Progress = updates
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			p.update(u)
		}
	}()
	d, err := Write(ctx, ref, img, o)
	<-done
	if err == nil {
		p.finish()
	}
	return d, err
}

// progressPrinter turns v1.Updates of one push into log lines.
type progressPrinter struct {
	image  string
	printf func(format string, args ...any)
	now    func() time.Time

	sent     atomic.Int64 // blob and manifest bytes sent, retries included
	total    int64
	complete int64
	lastStep int64     // last printed tenth
	lastAt   time.Time // when the last line was printed, or the push started
}

func (p *progressPrinter) update(u v1.Update) {
	if u.Error != nil {
		return // Write returns the error; printing it here too would say it twice
	}
	p.total, p.complete = u.Total, u.Complete
	if u.Total <= 0 || u.Complete >= u.Total {
		return // the summary line reports completion
	}
	step := u.Complete * progressStep / u.Total
	now := p.now()
	if step <= p.lastStep || now.Sub(p.lastAt) < progressEvery {
		return
	}
	p.lastStep, p.lastAt = step, now
	p.printf("pushing %s: %d%% (%s of %s)", p.image, step*100/progressStep, logging.Bytes(u.Complete), logging.Bytes(u.Total))
}

func (p *progressPrinter) finish() {
	sent := p.sent.Load()
	if sent == 0 && p.total == 0 {
		// remote found the manifest already there and sent nothing at all.
		p.printf("pushed %s: already in the registry, nothing uploaded", p.image)
		return
	}
	skipped := p.total - sent
	if skipped < 0 {
		skipped = 0 // retried uploads send some bytes twice
	}
	p.printf("pushed %s: %s uploaded, %s already in the registry", p.image, logging.Bytes(sent), logging.Bytes(skipped))
}

// countingTransport counts the body bytes of blob uploads and manifest PUTs: v1.Update
// counts blobs the registry already had as complete too, so it cannot tell them apart.
type countingTransport struct {
	inner http.RoundTripper
	sent  *atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	upload := (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/")
	manifest := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	if r.Body != nil && (upload || manifest) {
		r = r.Clone(r.Context())
		r.Body = &countingBody{ReadCloser: r.Body, n: t.sent}
	}
	return t.inner.RoundTrip(r)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
