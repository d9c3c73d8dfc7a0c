package publish

import "testing"

// A `docker load` answers 200 and reports a failure inside its JSON stream.
func TestLoadError(t *testing.T) {
	for _, tc := range []struct{ name, resp, want string }{
		{"loaded", `{"stream":"Loaded image: localhost/app:1\n"}`, ""},
		{"empty", "", ""},
		{"not JSON", "Loaded image: x", ""},
		{"error detail", `{"stream":"x"}` + "\n" + `{"errorDetail":{"message":"layer sha256:ab: unexpected EOF"},"error":"unexpected EOF"}`, "layer sha256:ab: unexpected EOF"},
		{"error only", `{"error":"no space left on device"}`, "no space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := loadError(tc.resp)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("loadError(%q) = %q, want %q", tc.resp, got, tc.want)
			}
		})
	}
}
