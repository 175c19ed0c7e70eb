"""Running cases: intake from every channel, the case engine, its store and human tasks, the case
file, consultations, materials, 12345 work orders, inbox and inspection queries."""
