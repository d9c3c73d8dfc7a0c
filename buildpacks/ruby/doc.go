// Package ruby is the Slipway Ruby buildpack: Ruby from the stack's Debian packages
// relocated into a layer, the app's gems installed by Bundler into a layer of their own,
// and a web process (Rails, Rack with puma or rackup).
package ruby
