/**
 * What ms-swift ≥ 3's `swift infer --result_path` writes for an exported record whose answer is
 * exactly its target (a perfect model): the target moved to "labels", the response appended to
 * "messages", the record's other fields kept. `end` is what the model writes after its answer
 * (an end-of-turn marker such as <|im_end|>).
 */
type Message = {role: string; content: string}

export function perfectSwiftResult(record: {messages: Message[]} & Record<string, unknown>, end = ''): Record<string, unknown> {
  const label = record.messages[record.messages.length - 1].content
  return {response: label + end, labels: label, ...record, messages: [...record.messages.slice(0, -1), {role: 'assistant', content: label}]}
}
