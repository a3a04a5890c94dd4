/** The two ways an ONNX model can be wrong for us: as read (SchemaError) and as about to be written (TensorDataError). */

/** Valid protobuf that is not an ONNX model we can represent; the message is the problem, without the path. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

/** Thrown when a tensor's data does not match its type or dims; write.ts reports it as a UserError. */
export class TensorDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TensorDataError';
  }
}

/** "1 value", "3 values": counts in messages. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
