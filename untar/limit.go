package untar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/slipway/slipway/logging"
)

// DefaultLimit is how much one extraction (a buildpack archive, a builder's buildpacks,
// all layers of one image, one cached layer) may write unless LimitEnv says otherwise:
// larger than any build image Slipway has met, small enough that a hostile archive cannot
// fill a disk.
const DefaultLimit int64 = 16 << 30

// LimitEnv names the environment variable that overrides DefaultLimit: a byte count with
// an optional K/M/G/T suffix (powers of 1024, "GiB" and "G" alike), e.g. 32GiB.
const LimitEnv = "SLIPWAY_EXTRACT_LIMIT"

// entryCost is what each entry costs besides its content, so that millions of empty
// entries (inodes) are bounded as well as bytes.
const entryCost = 512

// Budget is how many bytes extractions may still write. It is safe for concurrent use, so
// the layers of one image can share one.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget allows limit bytes (a limit <= 0 means DefaultLimit).
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Budget{limit: limit}
}

// FromEnv is a new budget of the limit in LimitEnv, or DefaultLimit when it is unset.
func FromEnv() (*Budget, error) {
	v := strings.TrimSpace(os.Getenv(LimitEnv))
	if v == "" {
		return NewBudget(DefaultLimit), nil
	}
	n, err := ParseSize(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", LimitEnv, v, err)
	}
	return NewBudget(n), nil
}

// ParseSize reads "1048576", "512MiB", "16G", "2TiB".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size; write a positive byte count such as 16GiB or 500MiB")
	}
	return n * mult, nil
}

// LimitError says an extraction would write more than its budget allows.
type LimitError struct {
	Limit int64
	Entry string
	Size  int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("entry %q (%s) takes the extraction past its limit of %s; the archive or image is larger than expected or hostile (raise %s if you trust it)",
		e.Entry, logging.Bytes(e.Size), logging.Bytes(e.Limit), LimitEnv)
}

// take charges one entry to the budget before anything of it is written.
func (b *Budget) take(hdr *tar.Header) error {
	size := int64(0)
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeGNUSparse {
		size = max(hdr.Size, 0)
	}
	if b.used.Add(size+entryCost) > b.limit {
		return &LimitError{Limit: b.limit, Entry: hdr.Name, Size: size}
	}
	return nil
}

// SparseError refuses a sparse entry where none belongs.
type SparseError struct {
	Entry string
	Size  int64
}

func (e *SparseError) Error() string {
	return fmt.Sprintf("entry %q is a sparse file claiming %s; buildpack archives and caches may not hold sparse files (repack it without --sparse)",
		e.Entry, logging.Bytes(e.Size))
}

// EscapeError refuses an entry that would be written outside the directory.
type EscapeError struct {
	Entry string
	Why   string
}

func (e *EscapeError) Error() string {
	return fmt.Sprintf("entry %q %s; the archive is malformed or malicious", e.Entry, e.Why)
}

// IsSparse reports whether hdr is a GNU sparse file, in the old GNU format or the PAX one.
func IsSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// copySparse writes r into f leaving every all-zero block a hole, then sets the size, so a
// sparse entry takes on disk only the data it carries.
func copySparse(ctx context.Context, f *os.File, r io.Reader) error {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if !allZero(buf[:n]) {
				if _, werr := f.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	return f.Truncate(off)
}

// zeros is compared against, which is far faster than a byte loop over a large hole.
var zeros = make([]byte, 64<<10)

func allZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }
