package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// AuthEnv is the platform variable carrying registry credentials (platform.md, Registry Authentication).
const AuthEnv = "CNB_REGISTRY_AUTH"

// Keychain resolves registry credentials as platform.md, Registry Authentication orders them: CNB_REGISTRY_AUTH in
// environ first, then go-containerregistry's default keychain (docker config.json, podman
// auth.json, credential helpers), then anonymous access.
func Keychain(environ []string) (authn.Keychain, error) {
	var raw string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, AuthEnv+"="); ok {
			raw = v // the last assignment wins, as in a process environment
		}
	}
	if raw == "" {
		return authn.DefaultKeychain, nil
	}
	env, err := parseAuthEnv(raw)
	if err != nil {
		return nil, err
	}
	return authn.NewMultiKeychain(env, authn.DefaultKeychain), nil
}

// envKeychain maps a registry (as name.Registry.Name() spells it) to the Authorization header
// value given for it in CNB_REGISTRY_AUTH.
type envKeychain map[string]string

var _ authn.Keychain = envKeychain(nil)

// parseAuthEnv reads CNB_REGISTRY_AUTH: a JSON object of registry → "Basic <base64>" or
// "Bearer <token>" (platform.md, Registry Authentication). Registry keys are normalized so "docker.io" matches
// images on Docker Hub.
func parseAuthEnv(raw string) (envKeychain, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w; it must be a JSON object mapping a registry to an Authorization header value, e.g. {\"registry.example.com\": \"Basic dXNlcjpwYXNz\"}", AuthEnv, err)
	}
	out := envKeychain{}
	for reg, header := range m {
		r, err := name.NewRegistry(reg)
		if err != nil {
			return nil, fmt.Errorf("parse %s: registry %q: %w", AuthEnv, reg, err)
		}
		scheme, _, _ := strings.Cut(header, " ")
		if !strings.EqualFold(scheme, "Basic") && !strings.EqualFold(scheme, "Bearer") {
			return nil, fmt.Errorf("parse %s: value for %s must start with \"Basic \" or \"Bearer \"", AuthEnv, reg)
		}
		out[r.Name()] = header
	}
	return out, nil
}

func (k envKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	header, ok := k[res.RegistryStr()]
	if !ok {
		return authn.Anonymous, nil
	}
	scheme, value, _ := strings.Cut(header, " ")
	value = strings.TrimSpace(value)
	if strings.EqualFold(scheme, "Bearer") {
		return authn.FromConfig(authn.AuthConfig{RegistryToken: value}), nil
	}
	// Basic carries base64 "user:password". Decoded, it also serves registries that trade
	// credentials for a bearer token (Docker Hub, GHCR); undecodable values are sent verbatim.
	if b, err := base64.StdEncoding.DecodeString(value); err == nil {
		if user, pass, ok := strings.Cut(string(b), ":"); ok && user != "" && pass != "" {
			return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
		}
	}
	return authn.FromConfig(authn.AuthConfig{Auth: value}), nil
}
