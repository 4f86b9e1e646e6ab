"""Stage 1 of VELI4SBR / SPRINT: the Global Intent Pool and the predict-and-correct loop, and the import of P&C
answers collected elsewhere."""
