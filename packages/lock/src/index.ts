/** @packageDocumentation Lease locks with fencing epochs: arrives with its own issue. */
export {};
