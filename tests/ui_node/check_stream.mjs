// Reads an SSE body on stdin and checks it with the protocol's own package.
//   node check_stream.mjs vercel [message.json]
//                                 -> the AI SDK's chat transport path: parseJsonEventStream
//                                    with uiMessageChunkSchema, then readUIMessageStream
//                                    (continuing the UI message in message.json, if given)
//   node check_stream.mjs agui    -> @ag-ui/core EventSchemas on every event, then
//                                    @ag-ui/client verifyEvents on the sequence
// Prints JSON: {"errors": [what the package refused], then for vercel "reported": [the error
// chunks' texts, as useChat's onError sees them], "message": <the final UIMessage>; for agui
// "events": <count>}.
import { readUIMessageStream, uiMessageChunkSchema } from 'ai';
import { parseJsonEventStream } from '@ai-sdk/provider-utils';
import { EventSchemas } from '@ag-ui/core/schemas';
import { verifyEvents } from '@ag-ui/client';
import { from, lastValueFrom, toArray } from 'rxjs';
import { readFileSync } from 'node:fs';

const protocol = process.argv[2];
const parts = [];
for await (const part of process.stdin) parts.push(part);
const input = Buffer.concat(parts);
const errors = [];

if (protocol === 'vercel') {
  const parsed = parseJsonEventStream({
    stream: new Response(input).body,
    schema: uiMessageChunkSchema,
  });
  const chunks = parsed.pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (result.success) controller.enqueue(result.value);
        else errors.push(`invalid chunk ${JSON.stringify(result.rawValue)}: ${result.error}`);
      },
    }),
  );
  const reported = [];
  let message = null;
  try {
    for await (const snapshot of readUIMessageStream({
      message: process.argv[3] ? JSON.parse(readFileSync(process.argv[3], 'utf8')) : undefined,
      stream: chunks,
      onError: (error) => reported.push(error.message),
    })) {
      message = snapshot;
    }
  } catch (error) {
    errors.push(`readUIMessageStream: ${error.message}`);
  }
  console.log(JSON.stringify({ errors, reported, message }));
} else if (protocol === 'agui') {
  const events = [];
  for (const block of input.toString('utf8').split('\n\n')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const result = EventSchemas.safeParse(JSON.parse(line.slice(6)));
      if (result.success) events.push(result.data);
      else errors.push(`invalid event ${line.slice(6)}: ${result.error.message}`);
    }
  }
  try {
    await lastValueFrom(from(events).pipe(verifyEvents(), toArray()));
  } catch (error) {
    errors.push(`verifyEvents: ${error.message}`);
  }
  console.log(JSON.stringify({ errors, events: events.length }));
} else {
  console.error('usage: node check_stream.mjs vercel|agui < body');
  process.exit(2);
}
