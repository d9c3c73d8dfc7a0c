// Package untartest makes hostile tar streams for tests of code that extracts them.
package untartest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
)

// SparseTar is a tar stream with one PAX (GNU 1.0) sparse entry named name that claims
// size bytes but carries one: a few hundred bytes that a careless extractor turns into a
// file of size bytes. extra entries (name → content, regular files) come first.
func SparseTar(name string, size int64, extra map[string]string) []byte {
	var b bytes.Buffer
	for n, c := range extra {
		b.Write(header(n, '0', int64(len(c))))
		b.Write(pad([]byte(c)))
	}
	recs := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", name) + record("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	b.Write(header("PaxHeaders.0/"+name, 'x', int64(len(recs))))
	b.Write(pad([]byte(recs)))
	// The sparse map leads the data: one fragment of one byte at the very end.
	sparseMap := pad([]byte(fmt.Sprintf("1\n%d\n1\n", size-1)))
	b.Write(header("GNUSparseFile.0/"+name, '0', int64(len(sparseMap))+1))
	b.Write(pad(append(sparseMap, 'x')))
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// record is one PAX record, "<len> key=value\n", where len counts itself.
func record(k, v string) string {
	body := " " + k + "=" + v + "\n"
	n := len(body) + 1
	for len(strconv.Itoa(n))+len(body) != n {
		n++
	}
	return strconv.Itoa(n) + body
}

func pad(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// header is a ustar header block.
func header(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], fmt.Sprintf("%011o\x00", 0))
	h[156] = typ
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h
}
