"""(owned by a helper; see /work/wt/CONTRACT.md)"""
