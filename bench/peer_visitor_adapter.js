'use strict';
// Message-format adapter for harness/bench.js driving the Node peer with the visitors' events:
// the peer emits a message's data as-is to the room of its `room` attribute, so the data is what
// our relay emits to a visitor for the same bench event (relay_visitor_adapter.js): the visitor's
// view of the bot's reply (models/webchat.Shown's fields), as socket.io event `message`.

const { botMessage, receipt } = require('./relay_visitor_adapter.js');

const SHOWN = ['id', 'messageId', 'type', 'text', 'direction', 'senderType', 'status', 'createdAt'];

exports.message = (bench) => {
  const message = botMessage(bench);
  return { data: Object.fromEntries(SHOWN.map((k) => [k, message[k]])), attributes: { room: bench.room, event: 'message' } };
};

exports.receipt = receipt;
