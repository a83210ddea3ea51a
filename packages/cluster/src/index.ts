/** @packageDocumentation Membership, catalog and partition ownership: arrives with its own issue. */
export {};
