// Package php is the Slipway PHP buildpack: PHP from the stack's Debian packages
// relocated into a layer with the extensions composer.json asks for, the app's Composer
// dependencies in a layer of their own, and a web process (PHP's built-in server, or
// php-fpm behind nginx or Apache httpd).
package php
