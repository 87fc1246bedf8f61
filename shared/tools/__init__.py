"""Tools agents can use: one small module per tool, registered in ``shared.tools.registry``."""
