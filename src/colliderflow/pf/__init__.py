"""Rule-based particle flow (section 3 of the MLPF paper) with CHS and PUPPI pileup mitigation."""
