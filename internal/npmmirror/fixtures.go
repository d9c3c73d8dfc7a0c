package npmmirror

// FrontendCLI is a tiny stand-in for front-end tool chains (vue-cli-service, react-scripts,
// tsc) that tests serve from the mirror as a dev dependency:
//
//   - "vue-cli-service serve" answers HTTP on $PORT with NODE_ENV and exits 0 on SIGTERM;
//   - "vue-cli-service build" writes dist/index.html and counts builds in
//     node_modules/.cache/fake-cli/builds, as babel/webpack caches do;
//   - "fake-tsc" copies src/*.ts to dist/*.js.
var FrontendCLI = Package{
	Name:    "slipway-test-frontend-cli",
	Version: "1.0.0",
	Bin:     map[string]string{"vue-cli-service": "cli.js", "fake-tsc": "tsc.js"},
	Files: map[string]string{
		"cli.js": `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const cmd = process.argv[2];
if (cmd === 'serve') {
  const srv = require('http').createServer((q, s) => s.end('served by fake vue-cli-service, NODE_ENV=' + process.env.NODE_ENV + '\n'));
  srv.listen(process.env.PORT || 8080, () => console.log('serving on ' + srv.address().port));
  process.on('SIGTERM', () => { console.log('fake vue-cli-service: got SIGTERM'); process.exit(0); });
} else if (cmd === 'build') {
  const cache = path.join(process.cwd(), 'node_modules', '.cache', 'fake-cli');
  fs.mkdirSync(cache, { recursive: true });
  const f = path.join(cache, 'builds');
  const n = fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) + 1 : 1;
  fs.writeFileSync(f, String(n));
  fs.mkdirSync('dist', { recursive: true });
  fs.writeFileSync(path.join('dist', 'index.html'), 'build number ' + n + '\n');
  console.log('fake build: build number ' + n + (n > 1 ? ' (cache restored)' : ' (cold cache)'));
} else {
  console.error('usage: vue-cli-service serve|build');
  process.exit(2);
}
`,
		"tsc.js": `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
fs.mkdirSync('dist', { recursive: true });
for (const f of fs.readdirSync('src')) {
  if (f.endsWith('.ts')) fs.copyFileSync(path.join('src', f), path.join('dist', f.replace(/\.ts$/, '.js')));
}
console.log('fake-tsc: compiled src to dist');
`,
	},
}
