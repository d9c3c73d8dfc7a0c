// Command npmproxy is a caching npm registry mirror on 127.0.0.1 for bench/nodejs.sh: both
// sides of the benchmark (slipway and podman build) fetch Node.js, npm and the app's
// dependencies through it over plain HTTP, so neither pays the internet's latency or needs
// the host's TLS trust store, and repeated runs download each file once.
//
//	go run ./bench/npmproxy -cache DIR -url-file FILE [-upstream URL] [-lifetime 2h] [-frontend-cli]
//
// -frontend-cli serves npmmirror.FrontendCLI (slipway-test-frontend-cli, the e2e tests'
// stand-in for vue-cli-service) for the Vue-style app of `bench/nodejs.sh vue`.
//
// It prints nothing on success; it writes its base URL to -url-file once it listens and
// stops by itself after -lifetime, so a forgotten process does not linger.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/slipway/slipway/internal/npmmirror"
)

func main() {
	cache := flag.String("cache", "", "directory keeping upstream answers across runs")
	urlFile := flag.String("url-file", "", "file to write the mirror's base URL to")
	upstream := flag.String("upstream", "https://registry.npmjs.org", "registry to mirror")
	lifetime := flag.Duration("lifetime", 2*time.Hour, "stop after this long")
	frontendCLI := flag.Bool("frontend-cli", false, "also serve slipway-test-frontend-cli (a stand-in for vue-cli-service)")
	flag.Parse()
	if *cache == "" || *urlFile == "" {
		log.Fatal("npmproxy: -cache and -url-file are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	h := &npmmirror.Handler{Cache: *cache, Upstream: strings.TrimSuffix(*upstream, "/")}
	if *frontendCLI {
		if err := h.AddLocal(npmmirror.FrontendCLI); err != nil {
			log.Fatalf("npmproxy: %v", err)
		}
	}
	if err := run(ctx, h, *urlFile); err != nil {
		log.Fatalf("npmproxy: %v", err)
	}
}

func run(ctx context.Context, h *npmmirror.Handler, urlFile string) error {
	if err := os.MkdirAll(h.Cache, 0o755); err != nil {
		return fmt.Errorf("create cache dir %s: %w", h.Cache, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	h.Base = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: h}
	tmp := urlFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(h.Base+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", urlFile, err)
	}
	if err := os.Rename(tmp, urlFile); err != nil {
		return fmt.Errorf("write %s: %w", urlFile, err)
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
