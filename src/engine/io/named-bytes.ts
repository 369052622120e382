/** A file as the readers take it: its name (for messages and format hints) and its bytes. */
export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}
