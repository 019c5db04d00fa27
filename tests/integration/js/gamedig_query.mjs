// A server query with gamedig, for proxygw's integration tests:
//   node gamedig_query.mjs TYPE HOST PORT
// TYPE is a gamedig game id (minecraft, valheim); PORT is queried as given
// (givenPortOnly). Prints the result as JSON, or {"error": ...} and exits 1.
import { GameDig } from 'gamedig'

const [type, host, port] = process.argv.slice(2)
try {
  const state = await GameDig.query({ type, host, port: Number(port), givenPortOnly: true, maxRetries: 2, socketTimeout: 2000, attemptTimeout: 8000 })
  process.stdout.write(JSON.stringify(state) + '\n')
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n')
  process.exit(1)
}
