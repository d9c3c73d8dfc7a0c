package java

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// MemoryCalculatorName is the name of the exec.d program (buildpack.md, Exec.d) the
// build puts into the JRE layer: the buildpack's own binary, which runs the
// calculator when called by this name.
const MemoryCalculatorName = "memory-calculator"

// Defaults of the calculation (README.md, "Memory"). The per-class metaspace and the
// JVM's own class count follow the sizing the Paketo memory calculator documents: about
// 5,800 bytes of metaspace per loaded class plus 14 MB, and 35% of the classes on the
// class path loaded.
const (
	defaultThreads     = 250
	defaultStack       = 1 << 20
	defaultDirect      = 10 << 20
	codeCacheLarge     = 240 << 20 // the JVM's own default with tiered compilation
	codeCacheSmall     = 64 << 20  // below 1 GiB, where 240M would crowd the heap out
	metaspacePerClass  = 5800
	metaspaceOverhead  = 14_000_000
	jvmClassCount      = 24_000 // classes of the JDK's modules a server app may load
	loadedClassPercent = 35
)

// memInput is what the calculation uses.
type memInput struct {
	Limit     int64 // bytes the container may use
	LimitFrom string
	HeadRoom  int // percent of Limit left to the rest of the container
	Threads   int
	Classes   int      // loaded classes
	User      []string // JAVA_TOOL_OPTIONS as the user set it
}

// memResult is the outcome: the sizes and the flags to add.
type memResult struct {
	Heap, Stack, Metaspace, CodeCache, Direct, NonHeap, HeadRoom int64
	Flags                                                        []string
}

// MemoryError says the limit cannot hold the non-heap the JVM needs.
type MemoryError struct {
	In  memInput
	Res memResult
}

func (e *MemoryError) Error() string {
	r := e.Res
	heap := "nothing"
	if r.Heap > 0 {
		heap = "only " + size(r.Heap)
	}
	return fmt.Sprintf("the container's memory limit %s (%s) is too small for the JVM: it needs %s outside the heap "+
		"(%d threads × %s stack = %s, metaspace %s for %d classes, code cache %s, direct memory %s) plus %s head room (BPL_JVM_HEAD_ROOM=%d%%), "+
		"leaving %s for the heap. Raise the limit, or lower BPL_JVM_THREAD_COUNT, or set the sizes yourself in JAVA_TOOL_OPTIONS",
		size(e.In.Limit), e.In.LimitFrom, size(r.NonHeap), e.In.Threads, size(r.Stack/int64(max(e.In.Threads, 1))), size(r.Stack),
		size(r.Metaspace), e.In.Classes, size(r.CodeCache), size(r.Direct), size(r.HeadRoom), e.In.HeadRoom, heap)
}

// userFlag finds the value of a -X or -XX:Name= option among the user's options.
func userFlag(opts []string, prefix string) (int64, bool) {
	for i := len(opts) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(opts[i], prefix); ok {
			if n, err := parseSize(v); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// calculate sizes the JVM's memory regions to fit in.Limit: the non-heap regions from
// the thread and class counts, the heap from what is left after the head room.
func calculate(in memInput) (memResult, error) {
	var r memResult
	xss, userXss := userFlag(in.User, "-Xss")
	if !userXss {
		xss = defaultStack
		r.Flags = append(r.Flags, "-Xss"+size(xss))
	}
	r.Stack = xss * int64(in.Threads)
	var ok bool
	if r.Metaspace, ok = userFlag(in.User, "-XX:MaxMetaspaceSize="); !ok {
		r.Metaspace = int64(in.Classes)*metaspacePerClass + metaspaceOverhead
		r.Metaspace = roundMiB(r.Metaspace)
		r.Flags = append(r.Flags, "-XX:MaxMetaspaceSize="+size(r.Metaspace))
	}
	if r.CodeCache, ok = userFlag(in.User, "-XX:ReservedCodeCacheSize="); !ok {
		r.CodeCache = codeCacheLarge
		if in.Limit < 1<<30 {
			r.CodeCache = codeCacheSmall
		}
		r.Flags = append(r.Flags, "-XX:ReservedCodeCacheSize="+size(r.CodeCache))
	}
	if r.Direct, ok = userFlag(in.User, "-XX:MaxDirectMemorySize="); !ok {
		r.Direct = defaultDirect
		r.Flags = append(r.Flags, "-XX:MaxDirectMemorySize="+size(r.Direct))
	}
	r.NonHeap = r.Stack + r.Metaspace + r.CodeCache + r.Direct
	r.HeadRoom = in.Limit * int64(in.HeadRoom) / 100
	heap, userHeap := userFlag(in.User, "-Xmx")
	if userHeap {
		r.Heap = heap
		return r, nil
	}
	r.Heap = (in.Limit - r.HeadRoom - r.NonHeap) &^ (1<<20 - 1)
	if r.Heap < 16<<20 {
		return r, &MemoryError{In: in, Res: r}
	}
	r.Flags = append([]string{"-Xmx" + size(r.Heap)}, r.Flags...)
	return r, nil
}

// parseSize reads a JVM size: bytes, or a number with k/m/g/t.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512M)", s)
	}
	return n * mult, nil
}

// size writes bytes as the JVM reads them, in the largest unit that divides them.
func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

func roundMiB(n int64) int64 { return (n + 1<<20 - 1) &^ (1<<20 - 1) }

// memoryLimit reads the container's memory limit from the cgroup (v2 memory.max, else
// v1 memory.limit_in_bytes) under root; without a limit it is the machine's memory.
func memoryLimit(root string) (int64, string) {
	read := func(p string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(root, p))
		return strings.TrimSpace(string(b)), err == nil
	}
	if v, ok := read("/sys/fs/cgroup/memory.max"); ok && v != "max" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, "cgroup v2 memory.max"
		}
	}
	if v, ok := read("/sys/fs/cgroup/memory/memory.limit_in_bytes"); ok {
		// v1 reports "no limit" as a huge page-aligned number.
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < 1<<60 {
			return n, "cgroup v1 memory.limit_in_bytes"
		}
	}
	if v, ok := read("/proc/meminfo"); ok {
		for _, line := range strings.Split(v, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return n << 10, "no container limit: the machine's memory"
				}
			}
		}
	}
	return 1 << 30, "no limit found: 1G assumed"
}

// countClasses counts the .class files under dir and in its jars (one level of jars:
// a Spring Boot jar's BOOT-INF/lib/*.jar are counted when the jar is exploded).
func countClasses(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		switch {
		case d.Type().IsRegular() && strings.HasSuffix(p, ".class"):
			n++
		case d.Type().IsRegular() && (strings.HasSuffix(p, ".jar") || strings.HasSuffix(p, ".war")):
			if zr, err := zip.OpenReader(p); err == nil {
				for _, f := range zr.File {
					if strings.HasSuffix(f.Name, ".class") {
						n++
					}
				}
				zr.Close()
			}
		}
		return nil
	})
	return n
}

// MemoryCalculatorMain is the exec.d program: it reads the limit, the settings
// (BPL_JVM_HEAD_ROOM, BPL_JVM_THREAD_COUNT, BPL_JVM_LOADED_CLASS_COUNT) and the user's
// JAVA_TOOL_OPTIONS, prints one line with the result and writes JAVA_TOOL_OPTIONS with
// the computed flags appended to fd 3. A limit too small exits 1 before the JVM starts.
func MemoryCalculatorMain(environ []string, stdout, stderr io.Writer) int {
	env := sdk.NewEnviron(environ)
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "ERROR: slipway/java memory calculator: "+format+"\n", args...)
		return 1
	}
	in := memInput{Threads: defaultThreads, User: strings.Fields(env.Get("JAVA_TOOL_OPTIONS"))}
	in.Limit, in.LimitFrom = memoryLimit(env.Get("SLIPWAY_JVM_CGROUP_ROOT"))
	for _, s := range []struct {
		name string
		dst  *int
	}{{"BPL_JVM_HEAD_ROOM", &in.HeadRoom}, {"BPL_JVM_THREAD_COUNT", &in.Threads}, {"BPL_JVM_LOADED_CLASS_COUNT", &in.Classes}} {
		if v := strings.TrimSpace(env.Get(s.name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (s.name == "BPL_JVM_HEAD_ROOM" && n > 99) {
				return fail("%s=%q: want a whole number%s", s.name, v, map[bool]string{true: " from 0 to 99"}[s.name == "BPL_JVM_HEAD_ROOM"])
			}
			*s.dst = n
		}
	}
	classesFrom := "BPL_JVM_LOADED_CLASS_COUNT"
	if in.Classes == 0 {
		app := countClasses(".")
		in.Classes = (app + jvmClassCount) * loadedClassPercent / 100
		classesFrom = fmt.Sprintf("%d%% of %d app + %d JVM classes", loadedClassPercent, app, jvmClassCount)
	}
	res, err := calculate(in)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "JVM memory for a %s limit (%s; %d threads, %d loaded classes from %s, %d%% head room): %s\n",
		size(in.Limit), in.LimitFrom, in.Threads, in.Classes, classesFrom, in.HeadRoom, strings.Join(res.Flags, " "))
	opts := strings.TrimSpace(strings.Join(append(in.User, res.Flags...), " "))
	fd3 := os.NewFile(3, "exec.d output")
	if fd3 == nil {
		return fail("fd 3 is not open: run me as an exec.d program (buildpack.md, Exec.d)")
	}
	defer fd3.Close()
	out := fmt.Sprintf("JAVA_TOOL_OPTIONS = %s\n", tomlString(opts))
	// Spring Boot reads server.port, not PORT (README.md, "Processes").
	if _, set := env.Lookup("SERVER_PORT"); !set && env.Get("SLIPWAY_SPRING_BOOT") == "true" && env.Get("PORT") != "" {
		out += fmt.Sprintf("SERVER_PORT = %s\n", tomlString(env.Get("PORT")))
	}
	if _, err := io.WriteString(fd3, out); err != nil {
		return fail("write to fd 3: %v", err)
	}
	return 0
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
