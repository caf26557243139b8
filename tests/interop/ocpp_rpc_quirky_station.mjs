// An OCPP 2.0.1 charging station on the npm package ocpp-rpc in strictMode that behaves as some
// third-party firmware does: every TransactionEvent of a session carries seqNo 0, and after a
// restart it numbers its transactions from the beginning again, so two sessions share the id
// "tx-1". It prints the answers it got as one JSON line.
// Usage: node ocpp_rpc_quirky_station.mjs ws://HOST:PORT/ocpp IDENTITY TOKEN
import rpc from 'ocpp-rpc';

const [endpoint, identity, token] = process.argv.slice(2);
const client = new rpc.RPCClient({ endpoint, identity, protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false });

const at = (hour, minute) => new Date(Date.UTC(2026, 10, 26, hour, minute, 0)).toISOString();
const energy = (wh, context, time) => [{ timestamp: time, sampledValue: [{ value: wh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }];
const idToken = { idToken: token, type: 'ISO14443' };

// One session, every event with seqNo 0, under the transaction id "tx-1".
async function session(hour, startWh, endWh) {
  const transactionId = 'tx-1';
  const started = await client.call('TransactionEvent', {
    eventType: 'Started', timestamp: at(hour, 0), triggerReason: 'Authorized', seqNo: 0,
    transactionInfo: { transactionId, chargingState: 'Charging' }, idToken, evse: { id: 1, connectorId: 1 },
    meterValue: energy(startWh, 'Transaction.Begin', at(hour, 0)),
  });
  await client.call('TransactionEvent', {
    eventType: 'Updated', timestamp: at(hour, 10), triggerReason: 'MeterValuePeriodic', seqNo: 0,
    transactionInfo: { transactionId }, meterValue: energy((startWh + endWh) / 2, 'Sample.Periodic', at(hour, 10)),
  });
  const ended = await client.call('TransactionEvent', {
    eventType: 'Ended', timestamp: at(hour, 20), triggerReason: 'StopAuthorized', seqNo: 0,
    transactionInfo: { transactionId, stoppedReason: 'Local' }, idToken, meterValue: energy(endWh, 'Transaction.End', at(hour, 20)),
  });
  return { started: started.idTokenInfo.status, ended: ended.idTokenInfo.status };
}

async function main() {
  await client.connect();
  const out = { protocol: client.protocol };
  out.boot = await client.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Quirky', model: 'Q1' } });
  out.first = await session(10, 1000, 4000);
  // The restart: a new boot, and the ids begin again.
  out.reboot = await client.call('BootNotification', { reason: 'ApplicationReset', chargingStation: { vendorName: 'Quirky', model: 'Q1' } });
  out.second = await session(12, 4000, 9000);
  await client.close();
  console.log(JSON.stringify(out));
}

main().catch(async (err) => {
  console.error(err);
  try { await client.close({ force: true }); } catch (_) { /* already closed */ }
  process.exit(1);
});
