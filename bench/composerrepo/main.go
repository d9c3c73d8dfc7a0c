// Command composerrepo serves the PHP benchmark's Composer repository on 127.0.0.1 (one
// package the benchmark writes, no Packagist) and writes the app that uses it: a
// composer.json and composer.lock, public/index.php, and a Composer config.json that
// points at the repository.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/slipway/slipway/internal/composerrepo"
)

var greeting = composerrepo.Package{
	Name: "acme/greeting", Version: "1.2.0",
	Require:  map[string]string{"php": ">=8.1"},
	Autoload: map[string]any{"psr-4": map[string]any{`Acme\Greeting\`: "src/"}},
	Files:    map[string]string{"src/Greeter.php": "<?php\nnamespace Acme\\Greeting;\n\nfinal class Greeter\n{\n    public function greet(string $who): string\n    {\n        return \"greetings, $who\";\n    }\n}\n"},
}

const index = `<?php
require __DIR__ . '/../vendor/autoload.php';

echo (new Acme\Greeting\Greeter())->greet('php'), ' ', mb_strtoupper('éclair'), "\n";
`

func main() {
	app := flag.String("app", "", "directory to write the app into")
	home := flag.String("home", "", "directory to write Composer's config.json into")
	urlFile := flag.String("url-file", "", "file to write the repository URL into, once serving")
	flag.Parse()
	if err := run(*app, *home, *urlFile); err != nil {
		fmt.Fprintln(os.Stderr, "composerrepo:", err)
		os.Exit(1)
	}
}

func run(app, home, urlFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	repo, closeRepo, err := composerrepo.Serve(greeting)
	if err != nil {
		return err
	}
	defer closeRepo()
	cj, lock := repo.Lock([]string{"php", "^8.1", "ext-mbstring", "*", "acme/greeting", "^1.2"}, greeting)
	files := map[string]string{
		filepath.Join(app, "composer.json"):       cj,
		filepath.Join(app, "composer.lock"):       lock,
		filepath.Join(app, "public", "index.php"): index,
		filepath.Join(home, "config.json"):        repo.Config(),
		filepath.Join(home, "type"):               "composer",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(urlFile, []byte(repo.URL), 0o644); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
