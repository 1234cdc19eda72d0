// The official openai npm SDK against the guarded proxy: node client.mjs BASE_URL API_KEY MODE
// Prints what the user of the SDK sees, as JSON, for tests/service/test_openai_sdk.py to assert on.
import OpenAI from "openai";

const [baseURL, apiKey, mode] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "Weather in Paris?" }];
const outguard = { policy: "default" };

if (mode === "stream") {
  const stream = await client.chat.completions.create({
    model: "x", messages, stream: true, stream_options: { include_usage: true }, outguard,
  });
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) {
      text += chunk.choices[0].delta?.content ?? "";
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  console.log(JSON.stringify({ text, finish, usage }));
} else if (mode === "tools") {
  const tools = [{
    type: "function",
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
    },
  }];
  const resp = await client.chat.completions.create({ model: "x", messages, tools, outguard });
  console.log(JSON.stringify({ finish: resp.choices[0].finish_reason, calls: resp.choices[0].message.tool_calls }));
}
