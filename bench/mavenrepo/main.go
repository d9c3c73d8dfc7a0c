// Command mavenrepo serves the Java benchmark's Maven repository on 127.0.0.1 (made from
// Debian's Java packages: the plugins Maven needs and commons-lang3; no Maven Central)
// and writes the app that uses it: pom.xml and two classes, and a directory holding a
// settings.xml that points Maven at the repository (with type, so it is a binding too).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/slipway/slipway/internal/mavenrepo"
)

const mainJava = `package hello;

import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Main {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/", exchange -> {
            byte[] body = (Greeting.of("java") + "\n").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }
}
`

const greetingJava = `package hello;

import org.apache.commons.lang3.StringUtils;

public class Greeting {
    public static String of(String who) { return StringUtils.capitalize("greetings, " + who); }
}
`

func main() {
	app := flag.String("app", "", "directory to write the app into")
	settings := flag.String("settings", "", "directory to write settings.xml (and a binding type) into")
	debs := flag.String("cache", "", "the .deb cache")
	urlFile := flag.String("url-file", "", "file to write the repository URL into, once serving")
	flag.Parse()
	if err := run(*app, *settings, *debs, *urlFile); err != nil {
		fmt.Fprintln(os.Stderr, "mavenrepo:", err)
		os.Exit(1)
	}
}

func run(app, settings, debs, urlFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tmp, err := os.MkdirTemp("", "slipway-bench-mavenrepo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	repo, err := mavenrepo.Serve(ctx, debs, tmp, mavenrepo.PluginPackages...)
	if err != nil {
		return err
	}
	defer repo.Close()
	files := map[string]string{
		filepath.Join(app, "pom.xml"):                           mavenrepo.POM(mavenrepo.Lang3),
		filepath.Join(app, "src/main/java/hello/Main.java"):     mainJava,
		filepath.Join(app, "src/main/java/hello/Greeting.java"): greetingJava,
		filepath.Join(settings, "settings.xml"):                 repo.Settings(),
		filepath.Join(settings, "type"):                         "maven",
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
