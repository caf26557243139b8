// An OCPP 2.0.1 charging station built on the npm package ocpp-rpc in strictMode (every frame
// in both directions is validated against ocpp-rpc's own copy of the schemas). It runs boot,
// status, authorize, a whole transaction with meter values and an alert, then prints what it
// was told as one JSON line. Usage: node ocpp_rpc_station.mjs ws://HOST:PORT/ocpp IDENTITY TOKEN
// (or wss://…, with the CA in NODE_EXTRA_CA_CERTS); OCPP_RPC_PASSWORD, if set, is sent as the
// station's HTTP Basic password (security profiles 1 and 2).
import rpc from 'ocpp-rpc';

const [endpoint, identity, token] = process.argv.slice(2);
const password = process.env.OCPP_RPC_PASSWORD;
const client = new rpc.RPCClient({ endpoint, identity, password, protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false });

const at = (minute) => new Date(Date.UTC(2026, 10, 26, 10, minute, 0)).toISOString();
const energy = (wh, context, minute) => [{ timestamp: at(minute), sampledValue: [{ value: wh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }];

async function main() {
  await client.connect();
  const out = { protocol: client.protocol };
  out.boot = await client.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'RpcVendor', model: 'RpcModel', firmwareVersion: '2.2.1' } });
  await client.call('StatusNotification', { timestamp: at(0), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  out.authorize = await client.call('Authorize', { idToken: { idToken: token, type: 'ISO14443' } });
  const tx = 'rpc-tx-1';
  const info = { transactionId: tx };
  out.started = await client.call('TransactionEvent', {
    eventType: 'Started', timestamp: at(1), triggerReason: 'Authorized', seqNo: 0, transactionInfo: { ...info, chargingState: 'Charging' },
    idToken: { idToken: token, type: 'ISO14443' }, evse: { id: 1, connectorId: 1 }, meterValue: energy(20000, 'Transaction.Begin', 1),
  });
  await client.call('TransactionEvent', {
    eventType: 'Updated', timestamp: at(16), triggerReason: 'MeterValuePeriodic', seqNo: 1, transactionInfo: info,
    meterValue: [{ timestamp: at(16), sampledValue: [
      { value: 22.5, context: 'Sample.Periodic', unitOfMeasure: { unit: 'kWh' } },
      { value: 11, context: 'Sample.Periodic', measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'kW' } },
      { value: 230.2, context: 'Sample.Periodic', measurand: 'Voltage', phase: 'L1-N', unitOfMeasure: { unit: 'V' } },
    ] }],
  });
  await client.call('NotifyEvent', { generatedAt: at(17), seqNo: 0, eventData: [{
    eventId: 1, timestamp: at(17), trigger: 'Delta', actualValue: 'true', component: { name: 'Connector', evse: { id: 1, connectorId: 1 } },
    variable: { name: 'Problem' }, eventNotificationType: 'HardWiredNotification', techInfo: 'cable overheating',
  }] });
  out.ended = await client.call('TransactionEvent', {
    eventType: 'Ended', timestamp: at(31), triggerReason: 'StopAuthorized', seqNo: 2, transactionInfo: { ...info, stoppedReason: 'Local' },
    idToken: { idToken: token, type: 'ISO14443' }, meterValue: energy(26000, 'Transaction.End', 31),
  });
  out.heartbeat = await client.call('Heartbeat', {});
  await client.close();
  console.log(JSON.stringify(out));
}

main().catch(async (err) => {
  console.error(err);
  try { await client.close({ force: true }); } catch (_) { /* already closed */ }
  process.exit(1);
});
