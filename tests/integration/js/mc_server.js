// A real Minecraft Java Edition server for proxygw's integration tests:
// minecraft-protocol's server in offline mode (no Mojang login), playing the
// backend that minecraft:server wakes. It answers status pings with its own
// MOTD and lets players join (login, configuration, play with keep-alives).
//   node mc_server.js HOST PORT MOTD
// Prints "listening" once it accepts connections, and one line per player.
'use strict'
const mc = require('minecraft-protocol')
const [host, port, motd] = process.argv.slice(2)
const version = '1.20.4'

const server = mc.createServer({
  'online-mode': false,
  host,
  port: Number(port),
  version,
  motd,
  maxPlayers: 5,
  keepAlive: true
})
const mcData = require('minecraft-data')(version)

server.on('playerJoin', (client) => {
  console.log('joined ' + client.username)
  client.on('end', () => console.log('left ' + client.username))
  client.on('error', (e) => console.log('client error ' + e.message))
  // The world's first packet, so that the client is really in the game.
  client.write('login', Object.assign({}, mcData.loginPacket, {
    entityId: client.id,
    maxPlayers: server.maxPlayers
  }))
})
server.on('error', (e) => console.log('server error ' + e.message))
server.on('listening', () => console.log('listening'))
