package java

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/slipway/slipway/buildpacks/sdk"
)

// maintainerOnly are dependencies of Debian's OpenJDK packages that only maintainer
// scripts use, none of which run here: ca-certificates-java builds the truststore in its
// postinst (the buildpack writes the truststore itself), util-linux and java-common serve
// the scripts; libcups2 is loaded only for printing. They are taken as installed.
var maintainerOnly = []string{"ca-certificates-java", "java-common", "util-linux", "libcups2", "default-jre-headless", "debconf", "ucf"}

// debianSource installs OpenJDK from the stack's apt sources (openjdk-N-jdk-headless,
// openjdk-N-jre-headless) through the SDK's relocated package installs.
type debianSource struct {
	apt *sdk.Apt
	// cache is a layer whose metadata keeps the versions offered under the
	// repositories' key, so a rebuild does not read the indexes to list them.
	cache *sdk.Layer
}

func (d *debianSource) Name() string { return "debian (the stack's apt sources)" }

var openjdkRE = regexp.MustCompile(`^openjdk-(\d+)-jre-headless$`)

func (d *debianSource) Offered(ctx context.Context) ([]int, error) {
	key, err := d.apt.RepositoryKey(ctx)
	if err != nil {
		return nil, err
	}
	if d.cache.Metadata["apt-repositories"] == key {
		if list, ok := d.cache.Metadata["jvm-versions"].(string); ok {
			var out []int
			for _, f := range strings.Fields(list) {
				n, _ := strconv.Atoi(f)
				out = append(out, n)
			}
			return out, nil
		}
	}
	idx, err := d.apt.Index(ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	var list []string
	for n := 8; n <= 40; n++ {
		if _, ok := idx.Lookup(fmt.Sprintf("openjdk-%d-jre-headless", n)); ok {
			out = append(out, n)
			list = append(list, strconv.Itoa(n))
		}
	}
	d.cache.Metadata["apt-repositories"] = key
	d.cache.Metadata["jvm-versions"] = strings.Join(list, " ")
	return out, d.cache.Write()
}

func (d *debianSource) Install(ctx context.Context, lay *sdk.Layer, major int, jdk bool, types sdk.LayerTypes) (string, bool, error) {
	pkg := fmt.Sprintf("openjdk-%d-jre-headless", major)
	if jdk {
		pkg = fmt.Sprintf("openjdk-%d-jdk-headless", major)
	}
	res, err := d.apt.Install(ctx, lay, sdk.AptRequest{Packages: []string{pkg}, Launch: types.Launch, Build: types.Build, Cache: types.Cache, Satisfied: maintainerOnly})
	if err != nil {
		return "", false, err
	}
	homes, _ := filepath.Glob(filepath.Join(lay.Path, "usr/lib/jvm", fmt.Sprintf("java-%d-openjdk-*", major)))
	if len(homes) != 1 {
		if len(res.Skipped) > 0 {
			return "", false, fmt.Errorf("the stack's image already has %s; slipway/java needs it in a layer (it reads its JAVA_HOME there)", pkg)
		}
		return "", false, fmt.Errorf("%s installed no /usr/lib/jvm/java-%d-openjdk-* directory into layer %s", pkg, major, lay.Name)
	}
	return homes[0], res.Reused, nil
}
