/** @packageDocumentation The elected coordinator and its planner: arrives with its own issue. */
export {};
