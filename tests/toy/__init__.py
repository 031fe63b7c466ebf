"""Toy third competitions built on scikit-learn data: proof that a new competition is a registry entry,
its data reader and a thin training CLI over the engines in common/."""
