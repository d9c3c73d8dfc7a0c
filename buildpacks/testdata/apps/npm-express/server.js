const express = require('express');
const fs = require('fs');
const app = express();
app.get('/', (req, res) => {
  let devDep = 'absent';
  try { require.resolve('is-number'); devDep = 'present'; } catch (e) {}
  res.send('hello from express on node ' + process.version + '; ' + fs.readFileSync(__dirname + '/built.txt', 'utf8').trim() + '; dev dep at launch: ' + devDep + '\n');
});
const port = process.env.PORT || 3000;
app.listen(port, () => console.log('listening on ' + port));
