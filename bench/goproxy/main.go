// Command goproxy is a caching Go module proxy on 127.0.0.1 for bench/go.sh: the slipway
// build (toolchain, modules, checksum database lookups) and the Dockerfile build (modules)
// fetch through it over plain HTTP, so neither pays the internet's latency or needs the
// host's TLS trust store, and repeated runs download each file once.
//
//	go run ./bench/goproxy -cache DIR -url-file FILE [-upstream URL] [-lifetime 2h]
//
// It writes its base URL to -url-file once it listens and stops by itself after -lifetime.
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

	"github.com/slipway/slipway/internal/goproxymirror"
)

func main() {
	cache := flag.String("cache", "", "directory keeping upstream answers across runs")
	urlFile := flag.String("url-file", "", "file to write the proxy's base URL to")
	upstream := flag.String("upstream", goproxymirror.Upstream, "module proxy to mirror")
	lifetime := flag.Duration("lifetime", 2*time.Hour, "stop after this long")
	flag.Parse()
	if *cache == "" || *urlFile == "" {
		log.Fatal("goproxy: -cache and -url-file are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	if err := run(ctx, *cache, *urlFile, strings.TrimSuffix(*upstream, "/")); err != nil {
		log.Fatalf("goproxy: %v", err)
	}
}

func run(ctx context.Context, cache, urlFile, upstream string) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("create cache dir %s: %w", cache, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: &goproxymirror.Handler{Cache: cache, Upstream: upstream}}
	tmp := urlFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(base+"\n"), 0o644); err != nil {
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
