// A web service with one dependency from the module proxy and a static file read at run
// time (kept in the image with BP_KEEP_FILES).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"

	"github.com/google/uuid"
)

func main() {
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://slipway.example/go-service"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		page, err := os.ReadFile("static/index.html")
		if err != nil {
			page = []byte("no static page: " + err.Error())
		}
		fmt.Fprintf(w, "hello from go-service %s release %s on %s\n%s", id, release, runtime.Version(), page)
	})
	log.Fatal(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
