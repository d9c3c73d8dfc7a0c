const ms = require('ms');
const http = require('http');
const port = process.env.PORT || 3000;
http.createServer((req, res) => res.end('ms says ' + ms(60000) + '\n')).listen(port, () => console.log('listening on ' + port));
