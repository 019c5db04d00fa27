// Minecraft Java Edition clients for proxygw's integration tests, from
// minecraft-protocol (offline mode):
//   node mc_client.js ping HOST PORT
//       a server list ping; prints the status response as JSON
//   node mc_client.js login HOST PORT NAME SECONDS
//       logs in as NAME and prints one JSON line per event: {"event":"play"}
//       once in the game, {"event":"disconnect","reason":...} when the server
//       refuses it, {"event":"end"}; after SECONDS in the game it prints
//       {"event":"stayed"} and leaves
// Exits 0 when it got what it came for, 1 on an error (printed).
'use strict'
const mc = require('minecraft-protocol')
const [cmd, host, port, name, seconds] = process.argv.slice(2)
const version = '1.20.4'
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const fail = (e) => { say({ event: 'error', message: String(e && e.message ? e.message : e) }); process.exit(1) }
setTimeout(() => fail('timed out'), 60000).unref()

if (cmd === 'ping') {
  mc.ping({ host, port: Number(port), version }).then((r) => { say(r); process.exit(0) }, fail)
} else if (cmd === 'login') {
  const client = mc.createClient({ host, port: Number(port), username: name, version, auth: 'offline' })
  let playing = false
  client.on('state', (s) => {
    if (s === 'play' && !playing) {
      playing = true
      say({ event: 'play' })
      setTimeout(() => { say({ event: 'stayed' }); client.end('bye') }, Number(seconds) * 1000)
    }
  })
  client.on('disconnect', (p) => say({ event: 'disconnect', reason: p.reason }))
  client.on('kick_disconnect', (p) => say({ event: 'kicked', reason: p.reason }))
  client.on('error', (e) => say({ event: 'error', message: e.message }))
  client.on('end', (why) => { say({ event: 'end', why: String(why) }); process.exit(0) })
} else {
  fail('unknown command ' + cmd)
}
