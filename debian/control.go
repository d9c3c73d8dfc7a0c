package debian

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Field is one field of a control paragraph, kept in file order so a paragraph can be
// written back the way dpkg reads it.
type Field struct {
	Name, Value string
}

// Paragraph is one stanza of a deb822 control file (a Packages index entry, a .deb's
// control file, an entry of /var/lib/dpkg/status).
type Paragraph []Field

// Get returns the value of the named field (case-insensitive, as in deb822), or "".
func (p Paragraph) Get(name string) string {
	for _, f := range p {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// WriteTo writes the paragraph followed by a blank line. Multi-line values keep their
// continuation lines, which already start with a space.
func (p Paragraph) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, f := range p {
		b.WriteString(f.Name)
		b.WriteString(":")
		if f.Value != "" && !strings.HasPrefix(f.Value, "\n") {
			b.WriteString(" ")
		}
		b.WriteString(f.Value)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// ReadParagraphs calls fn for each paragraph of the deb822 stream r, in order. name is
// used in errors only. Lines starting with '#' are comments (allowed in control files).
func ReadParagraphs(r io.Reader, name string, fn func(Paragraph) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var p Paragraph
	line := 0
	flush := func() error {
		if len(p) == 0 {
			return nil
		}
		err := fn(p)
		p = nil
		return err
	}
	for sc.Scan() {
		line++
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(l, "#"):
		case l[0] == ' ' || l[0] == '\t':
			if len(p) == 0 {
				return fmt.Errorf("parse %s: line %d: continuation line without a field", name, line)
			}
			p[len(p)-1].Value += "\n" + l
		default:
			k, v, ok := strings.Cut(l, ":")
			if !ok || k == "" {
				return fmt.Errorf("parse %s: line %d: want \"Field: value\", got %q", name, line, l)
			}
			p = append(p, Field{Name: k, Value: strings.TrimSpace(v)})
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return flush()
}
